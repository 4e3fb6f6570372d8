// The .tfm grammar as a chevrotain CST parser: syntax only, no semantics, with error recovery.
// The compiler (src/syntax/parse.ts) and the language server share this one parser.
// docs/LANGUAGE.md holds the same grammar as EBNF; grammar/diagrams.html is generated from it.
import type { CstNode, IToken, TokenType } from "chevrotain";
import { CstParser } from "./chevrotain.js";
import * as T from "./tokens.js";

export class TfmParser extends CstParser {
  /**
   * `validate`: chevrotain's checks of the grammar itself (ambiguities, left recursion). They cost
   * a tenth of a second of every command's startup and cannot fail for a grammar that passed them,
   * so the shared parser skips them and test/unit/grammar/parser.test.ts runs them.
   */
  constructor(opts: { validate?: boolean } = {}) {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, nodeLocationTracking: "onlyOffset", skipValidations: !opts.validate });
    this.performSelfAnalysis();
  }

  /** `item (, item)* ,?` — a comma-separated list that may end with a comma, up to `close`. */
  private commaList(item: (n: number) => void, close: TokenType): void {
    this.OPTION(() => {
      item(1);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== close,
        DEF: () => { this.CONSUME(T.Comma); item(2); },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
  }

  program = this.RULE("program", () => {
    this.MANY(() => this.OR([
      { ALT: () => this.SUBRULE(this.blockDecl) },
      { ALT: () => this.SUBRULE(this.fnDecl) },
    ]));
  });

  // model Name(hparams) { ... }   |   block Name(hparams) { ... }
  blockDecl = this.RULE("blockDecl", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Model) }, { ALT: () => this.CONSUME(T.Block) }]);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.SUBRULE(this.body);
  });

  // fn name(params) { ... return expr }
  fnDecl = this.RULE("fnDecl", () => {
    this.CONSUME(T.Fn);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.paramList);
    this.SUBRULE(this.body);
  });

  paramList = this.RULE("paramList", () => {
    this.CONSUME(T.LParen);
    this.commaList((n) => this.subrule(n, this.param), T.RParen);
    this.CONSUME(T.RParen);
  });

  // name (: type)? (= default)?
  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => { this.CONSUME(T.Colon); this.SUBRULE(this.typeAnn); });
    this.OPTION2(() => { this.CONSUME(T.Assign); this.SUBRULE(this.expression); });
  });

  typeAnn = this.RULE("typeAnn", () => {
    this.OR([
      { GATE: () => this.LA(2).tokenType === T.LBracket, ALT: () => this.SUBRULE(this.tensorType) },
      { ALT: () => this.CONSUME(T.IntType) },
      { ALT: () => this.CONSUME(T.FloatType) },
      { ALT: () => this.CONSUME(T.BoolType) },
      { ALT: () => this.CONSUME(T.StrType) },
    ]);
  });

  // f32[batch, seq, d_model]   |   bool[..., T, S]
  tensorType = this.RULE("tensorType", () => {
    this.OR([{ ALT: () => this.CONSUME(T.DType) }, { ALT: () => this.CONSUME(T.BoolType) }]);
    this.CONSUME(T.LBracket);
    this.commaList((n) => this.subrule(n, this.dim), T.RBracket);
    this.CONSUME(T.RBracket);
  });

  // `...` (any dims), `*batch` (a named pack of dims), or a dimension expression
  dim = this.RULE("dim", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Ellipsis) },
      { ALT: () => { this.CONSUME(T.Star); this.CONSUME(T.Identifier); } },
      { ALT: () => this.SUBRULE(this.expression) },
    ]);
  });

  body = this.RULE("body", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.member));
    this.CONSUME(T.RBrace);
  });

  member = this.RULE("member", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.inputDecl) },
      { ALT: () => this.SUBRULE(this.outputDecl) },
      { ALT: () => this.SUBRULE(this.paramDecl) },
      { GATE: () => this.LA(1).tokenType === T.State && this.LA(3).tokenType === T.Colon, ALT: () => this.SUBRULE(this.stateDecl) },
      { ALT: () => this.SUBRULE(this.layerDecl) },
      { ALT: () => this.SUBRULE(this.ignoreDecl) },
      { ALT: () => this.SUBRULE(this.ifStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
      { ALT: () => this.SUBRULE(this.assignStmt) },
    ]);
  });

  // input mask: bool[batch, 1, 1, seq] = true
  inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    this.OPTION(() => { this.CONSUME(T.Assign); this.SUBRULE(this.expression); });
  });

  // output logits: f32[batch, seq, vocab] = expr   (type and value both optional)
  outputDecl = this.RULE("outputDecl", () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier);
    this.OPTION(() => { this.CONSUME(T.Colon); this.SUBRULE(this.tensorType); });
    this.OPTION2(() => { this.CONSUME(T.Assign); this.SUBRULE(this.expression); });
  });

  // param weight: f32[out, in] as "kernel" transposed
  paramDecl = this.RULE("paramDecl", () => {
    this.CONSUME(T.Param);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    // `as` and `transposed` are soft keywords: `as = 1` on the next line is an assignment.
    this.OPTION({ GATE: () => this.LA(2).tokenType === T.StringLit, DEF: () => { this.CONSUME(T.As); this.CONSUME(T.StringLit); } });
    this.OPTION2({ GATE: () => this.LA(2).tokenType !== T.Assign && this.LA(2).tokenType !== T.Comma, DEF: () => this.CONSUME(T.Transposed) });
  });

  // state k_cache: f32[B, n_head, past, head_dim]   (kept between calls: a KV cache)
  stateDecl = this.RULE("stateDecl", () => {
    this.CONSUME(T.State);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
  });

  // layer h = repeat(n_layer) Block(n_embd, n_head) as "h"; layer h = repeat(n, i) Block(first=i == 0)
  layerDecl = this.RULE("layerDecl", () => {
    this.CONSUME(T.Layer);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Assign);
    this.OPTION(() => {
      this.CONSUME(T.Repeat);
      this.CONSUME(T.LParen);
      this.SUBRULE(this.expression);
      this.OPTION3(() => { this.CONSUME(T.Comma); this.CONSUME3(T.Identifier); });
      this.CONSUME(T.RParen);
    });
    this.CONSUME2(T.Identifier);
    this.SUBRULE(this.argList);
    this.OPTION2({ GATE: () => this.LA(2).tokenType === T.StringLit, DEF: () => { this.CONSUME(T.As); this.CONSUME(T.StringLit); } });
  });

  // ignore "attn.bias", "attn.masked_bias"
  ignoreDecl = this.RULE("ignoreDecl", () => {
    this.CONSUME(T.Ignore);
    this.CONSUME(T.StringLit);
    this.MANY(() => { this.CONSUME(T.Comma); this.CONSUME2(T.StringLit); });
  });

  ifStmt = this.RULE("ifStmt", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.body);
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([{ ALT: () => this.SUBRULE(this.ifStmt) }, { ALT: () => this.SUBRULE2(this.body) }]);
    });
  });

  returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
    this.MANY(() => { this.CONSUME(T.Comma); this.SUBRULE2(this.expression); });
  });

  // x = expr   |   q, k, v = split(qkv, 3, dim=-1)
  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => { this.CONSUME(T.Comma); this.CONSUME2(T.Identifier); });
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expression);
  });

  // Expressions, loosest first. Binary operators associate to the left; comparisons do not chain.
  expression = this.RULE("expression", () => {
    this.SUBRULE(this.andExpr);
    this.MANY(() => { this.CONSUME(T.OrOr); this.SUBRULE2(this.andExpr); });
  });

  andExpr = this.RULE("andExpr", () => {
    this.SUBRULE(this.cmpExpr);
    this.MANY(() => { this.CONSUME(T.AndAnd); this.SUBRULE2(this.cmpExpr); });
  });

  cmpExpr = this.RULE("cmpExpr", () => {
    this.SUBRULE(this.addExpr);
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.EqEq) }, { ALT: () => this.CONSUME(T.NotEq) },
        { ALT: () => this.CONSUME(T.LessEq) }, { ALT: () => this.CONSUME(T.GreaterEq) },
        { ALT: () => this.CONSUME(T.Less) }, { ALT: () => this.CONSUME(T.Greater) },
      ]);
      this.SUBRULE2(this.addExpr);
    });
  });

  addExpr = this.RULE("addExpr", () => {
    this.SUBRULE(this.mulExpr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      this.SUBRULE2(this.mulExpr);
    });
  });

  // `@` binds like `*`, as in Python. Python's `//` is parsed only to be reported (TFM1015).
  mulExpr = this.RULE("mulExpr", () => {
    this.SUBRULE(this.unaryExpr);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) },
        { ALT: () => this.CONSUME(T.Percent) }, { ALT: () => this.CONSUME(T.At) },
        { ALT: () => this.CONSUME(T.SlashSlash) },
      ]);
      this.SUBRULE2(this.unaryExpr);
    });
  });

  // Prefix operators are a loop, not recursion, so `- - - x` cannot exhaust the stack. Python's
  // `**` (tighter than prefix `-` on its left, as there) is parsed only to be reported (TFM1015).
  unaryExpr = this.RULE("unaryExpr", () => {
    this.MANY(() => this.OR([{ ALT: () => this.CONSUME(T.Minus) }, { ALT: () => this.CONSUME(T.Bang) }]));
    this.SUBRULE(this.postfixExpr);
    this.MANY2(() => {
      this.CONSUME(T.StarStar);
      this.MANY3(() => this.OR2([{ ALT: () => this.CONSUME2(T.Minus) }, { ALT: () => this.CONSUME2(T.Bang) }]));
      this.SUBRULE2(this.postfixExpr);
    });
  });

  postfixExpr = this.RULE("postfixExpr", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => this.OR([
      { ALT: () => this.SUBRULE(this.argList) },
      { ALT: () => this.SUBRULE(this.indexSuffix) },
      { ALT: () => { this.CONSUME(T.Dot); this.CONSUME(T.Identifier); } },
    ]));
  });

  argList = this.RULE("argList", () => {
    this.CONSUME(T.LParen);
    this.commaList((n) => this.subrule(n, this.arg), T.RParen);
    this.CONSUME(T.RParen);
  });

  // positional `expr` or named `name=expr`
  arg = this.RULE("arg", () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Assign,
      DEF: () => { this.CONSUME(T.Identifier); this.CONSUME(T.Assign); },
    });
    this.SUBRULE(this.expression);
  });

  indexSuffix = this.RULE("indexSuffix", () => {
    this.CONSUME(T.LBracket);
    this.commaList((n) => this.subrule(n, this.subscript), T.RBracket);
    this.CONSUME(T.RBracket);
  });

  // `...`   |   `i`   |   `start:end` with either end optional. Python's step (`::2`) is parsed
  // only to be reported (TFM1015).
  subscript = this.RULE("subscript", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Ellipsis) },
      { ALT: () => { this.CONSUME(T.Colon); this.OPTION(() => this.SUBRULE(this.expression)); this.OPTION4(() => this.step(1)); } },
      {
        ALT: () => {
          this.SUBRULE2(this.expression);
          this.OPTION2(() => { this.CONSUME2(T.Colon); this.OPTION3(() => this.SUBRULE3(this.expression)); this.OPTION5(() => this.step(2)); });
        },
      },
    ]);
  });

  /** `: step?` — the third part of a Python slice. */
  private step(n: number): void {
    this.consume(2 + n, T.Colon);
    this.option(5 + n, () => this.subrule(3 + n, this.expression));
  }

  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Int) },
      { ALT: () => this.CONSUME(T.Float) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => { this.CONSUME(T.LParen); this.SUBRULE(this.expression); this.CONSUME(T.RParen); } },
      { ALT: () => this.SUBRULE(this.listExpr) },
    ]);
  });

  listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.commaList((n) => this.listElement(n), T.RBracket);
    this.CONSUME(T.RBracket);
  });

  /**
   * A list element: an expression; a lone number or name (`[1, 2, 3]`, `[x, x]`, the elements of long
   * literals) is taken as its one token, without the nine rule levels of an expression around it —
   * the same language, parsed in a tenth of the CST (src/syntax/parse.ts reads both forms alike).
   */
  private listElement(n: number): void {
    const alone = () => {
      const next = this.LA(2).tokenType;
      return next === T.Comma || next === T.RBracket;
    };
    this.or(n, {
      IGNORE_AMBIGUITIES: true,
      DEF: [
        { GATE: alone, ALT: () => this.consume(10 + n, T.Int) },
        { GATE: alone, ALT: () => this.consume(20 + n, T.Float) },
        { GATE: alone, ALT: () => this.consume(30 + n, T.Identifier) },
        { ALT: () => this.subrule(n, this.expression) },
      ],
    });
  }
}

/** One parser instance is enough: chevrotain parsers are reusable by resetting `input`. */
export const parser = new TfmParser();

export interface CstResult {
  cst: CstNode;
  lexErrors: { offset: number; length: number; message: string }[];
  parseErrors: { token: IToken; message: string; previousToken?: IToken }[];
  comments: IToken[];
}
