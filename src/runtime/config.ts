// A Hugging Face config.json as model parameters (Node): each key that names a parameter of the
// model sets it, as `--set key=value` would, unless `--set` gives it (the explicit value wins).
// The value must fit the parameter's type (an int for an int, a number for a float, a boolean for
// a bool, a string for a str), else TFM5107 naming the key; `null` leaves the parameter at its
// default (Hugging Face writes `"n_inner": null` for "the default"). Keys the model does not have
// are returned, to be listed once as ignored.
import type { Value } from "../check/evaluate.js";
import { WeightFileError } from "../weights/errors.js";
import { readJsonFile } from "./folder.js";

export interface ConfigSettings {
  /** Parameter name → the value as `--set` text. */
  readonly settings: Map<string, string>;
  /** Keys the model has no parameter for, in the file's order. */
  readonly ignored: string[];
  /** Keys that `--set` gave too: the explicit value was kept. */
  readonly overridden: string[];
}

/** `params`: the model's parameters and their kinds (from its instantiation); `explicit`: the names `--set` gave. */
export function configSettings(path: string, params: ReadonlyMap<string, Value["kind"]>, explicit: ReadonlySet<string>): ConfigSettings {
  const json = readJsonFile(path, "TFM5107");
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new WeightFileError("TFM5107", `${path} is not a JSON object of settings`, { file: path });
  const settings = new Map<string, string>();
  const ignored: string[] = [];
  const overridden: string[] = [];
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    const kind = params.get(key);
    if (kind === undefined) {
      ignored.push(key);
      continue;
    }
    if (explicit.has(key)) {
      overridden.push(key);
      continue;
    }
    if (v === null) continue;
    const wrong = (want: string) =>
      new WeightFileError("TFM5107", `${path}: "${key}" is ${JSON.stringify(v)?.slice(0, 80) ?? String(v)}, but the model's parameter \`${key}\` is ${want}`, { file: path });
    switch (kind) {
      case "int":
        if (typeof v !== "number" || !Number.isSafeInteger(v)) throw wrong("an int");
        settings.set(key, String(v));
        break;
      case "float":
        if (typeof v !== "number" || !Number.isFinite(v)) throw wrong("a float");
        settings.set(key, Number.isInteger(v) ? v.toFixed(1) : String(v));
        break;
      case "bool":
        if (typeof v !== "boolean") throw wrong("a bool");
        settings.set(key, String(v));
        break;
      case "str":
        if (typeof v !== "string") throw wrong("a str");
        settings.set(key, `"${v}"`);
        break;
    }
  }
  return { settings, ignored, overridden };
}

/** For a model compiled already (`compile().load(DIR)`): the config.json values that differ from its parameters, one line each. */
export function configDifferences(path: string, hparams: ReadonlyMap<string, Value>): string[] {
  const kinds = new Map([...hparams].map(([k, v]) => [k, v.kind]));
  const { settings } = configSettings(path, kinds, new Set());
  const out: string[] = [];
  for (const [k, text] of settings) {
    const v = hparams.get(k)!;
    const same = v.kind === "str" ? `"${v.v}"` === text : Number(text) === Number(v.v) || text === String(v.v);
    if (!same) out.push(`${path} sets ${k} = ${text}, but the model was compiled with ${k} = ${String(v.v)}: compile with the folder's settings (configSettings) to use it`);
  }
  return out;
}
