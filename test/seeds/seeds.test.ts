// The bugs in the source documents' snippets (/work/shared/seeds/README.md), each translated
// faithfully into a .tfm program in this folder: a header quotes the original lines and says what
// the bug is, and `# expect:` lines say what the checker must report, exactly:
//
//   # expect: TFM4003 at 55:24                 a diagnostic with this code starting at line:col
//   # expect: TFM3001 at 31:9 with --set head=3  the same, when checked with these settings
//   # expect: clean                            no diagnostic at all (with the default settings)
//
// For every settings group the diagnostics must be exactly the expected ones. The bugs the checker
// cannot see, because the shapes are right (003's positional-encoding formula, 004's decoder fed
// the encoder's output), are `clean` here on purpose: only numerics tests against PyTorch can
// catch them.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { check } from "../../src/api.js";
import { LineMap } from "../../src/diag/span.js";

const dir = fileURLToPath(new URL(".", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".tfm")).sort();

interface Expect {
  /** `--set` settings, as "k=v k=v" ("" for the defaults). */
  readonly settings: string;
  /** `CODE@line:col`, or nothing for `clean`. */
  readonly at: string[];
}

function expectations(text: string): Expect[] {
  const groups = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^# expect: (?:clean|(TFM\d{4}) at (\d+):(\d+))(?: with --set (.+))?\s*$/.exec(line);
    if (!line.startsWith("# expect:")) continue;
    if (!m) throw new Error(`unreadable expect line: ${line}`);
    const settings = (m[4] ?? "").trim().split(/\s+--set\s+|\s+/).filter(Boolean).sort().join(" ");
    const list = groups.get(settings) ?? [];
    if (m[1]) list.push(`${m[1]}@${m[2]}:${m[3]}`);
    groups.set(settings, list);
  }
  return [...groups].map(([settings, at]) => ({ settings, at: at.sort() }));
}

/** What the checker reports, as `CODE@line:col` (and the whole message, for failures). */
function reported(file: string, text: string, settings: string): { at: string[]; shown: string } {
  const r = check(text, file, { settings: new Map(settings ? settings.split(" ").map((s) => s.split("=") as [string, string]) : []) });
  const map = new LineMap(text);
  const at = r.diagnostics.map((d) => {
    if (d.file !== file) return `${d.code}@${d.file}`;
    const p = map.position(d.span.start);
    return `${d.code}@${p.line}:${p.column}`;
  });
  const shown = r.diagnostics.map((d, i) => `${at[i]} ${d.severity}: ${d.message}`).join("\n  ") || "(none)";
  return { at: at.sort(), shown };
}

describe("source-document bugs, as .tfm programs", () => {
  it("has the seed programs", () => {
    expect(files).toEqual(["001-2d-input.tfm", "001-dk-float.tfm", "003-mha-axes.tfm", "003-pe-formula.tfm", "003-pe-unsliced.tfm", "004-decoder-input.tfm"]);
  });

  for (const f of files) {
    const text = readFileSync(`${dir}/${f}`, "utf8");
    const groups = expectations(text);
    for (const g of groups) {
      const clean = g.at.length === 0;
      const title = clean
        ? `${f}${g.settings ? ` with ${g.settings}` : ""}: checks clean${/NOT A SHAPE BUG/.test(text) && !g.settings ? " (not a shape bug: only numerics tests against PyTorch can catch it)" : ""}`
        : `${f}${g.settings ? ` with ${g.settings}` : ""}: ${g.at.join(", ")}`;
      it(title, () => {
        expect(/^# Source document \d{3} /m.test(text), "the header names the source document").toBe(true);
        const got = reported(f, text, g.settings);
        expect(got.at, `reported:\n  ${got.shown}`).toEqual(g.at);
      });
    }
    it(`${f}: has a default (no --set) expectation`, () => {
      expect(groups.some((g) => g.settings === "")).toBe(true);
    });
  }
});
