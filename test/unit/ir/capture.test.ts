// Capture patterns (src/ir/capture.ts): `*` one part, `**` any number, `?`/`*` inside a part; and a
// pattern of many `**` parts against a long name ends (memoized matching: without it this is
// exponential, and the test would run past its timeout).
import { describe, expect, it } from "vitest";
import { matchesCapture, selectCaptures } from "../../../src/ir/capture.js";

describe("capture patterns", () => {
  it("match by parts", () => {
    expect(matchesCapture("h.*.attn.weights", "h.3.attn.weights")).toBe(true);
    expect(matchesCapture("h.*.weights", "h.3.attn.weights")).toBe(false);
    expect(matchesCapture("**.weights", "h.3.attn.weights")).toBe(true);
    expect(matchesCapture("**", "weights")).toBe(true);
    expect(matchesCapture("h.1?.attn.weights", "h.12.attn.weights")).toBe(true);
    expect(matchesCapture("h.1?.attn.weights", "h.1.attn.weights")).toBe(false);
    expect(matchesCapture("h.(1).x", "h.(1).x")).toBe(true); // regex characters are literal
    expect(matchesCapture("h.(1).x", "h.1.x")).toBe(false);
  });

  it("a hostile pattern of 30 `**` parts against a 40-part name ends, unmatched", () => {
    expect(matchesCapture(Array(30).fill("**").join(".") + ".x", Array(40).fill("a").join("."))).toBe(false);
    expect(matchesCapture(Array(30).fill("**").join(".") + ".a", Array(40).fill("a").join("."))).toBe(true);
  });

  it("an unmatched pattern lists the nearest names", () => {
    const names = ["h.0.attn.weights", "h.1.attn.weights", "ln_f.x"];
    const s = selectCaptures(["h.*.attn.weight", "h.0.attn.weights"], names);
    expect(s.names).toEqual(["h.0.attn.weights"]);
    expect(s.unmatched).toHaveLength(1);
    expect(s.unmatched[0]!.nearest).toContain("h.0.attn.weights");
  });
});
