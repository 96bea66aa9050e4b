/**
 * @module The layer rule of `STYLE.md`, checked on every non-test `.ts` file under `lib/`:
 * - `lib/core/` is pure: it imports nothing from `adapters/` or `runtime/` (not even types),
 *   and uses no `Deno.*`, `Date.now`, `setTimeout`/`setInterval`, `performance`,
 *   `crypto.randomUUID` or `console`;
 * - `lib/adapters/` never imports `runtime/`;
 * - nothing imports a barrel (`index.ts`, `mod.ts`): importers name the file they need.
 *
 * `layerViolations()` is a pure function of the files' paths and texts; comments and the
 * text of string literals are not code (a comment may say "Deno."), import specifiers are
 * read from the strings after `from`, `import` and `import(`.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";

/** One source file, by its path from the repository root (`lib/core/plan.ts`). */
interface SourceFile {
  readonly path: string;
  readonly text: string;
}

interface Violation {
  readonly path: string;
  /** 1-based. */
  readonly line: number;
  readonly rule: string;
  /** `lib/core/plan.ts:12 imports "../adapters/ec2.ts": the core may not import ...`. */
  readonly message: string;
}

const CORE_IMPORT_RULE = "the core may not import adapters or runtime";
const CORE_PURE_RULE =
  "the core is pure: no Deno.*, Date.now, timers, performance, crypto.randomUUID or console";
const ADAPTER_IMPORT_RULE = "adapters may not import the runtime";
const BARREL_RULE = "import the module itself, not a barrel (index.ts, mod.ts)";

/** What the core may not use, as it appears in code. */
const IMPURE: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: "Deno.", pattern: /\bDeno\s*\./g },
  { name: "Date.now", pattern: /\bDate\s*\.\s*now\b/g },
  { name: "setTimeout", pattern: /\bsetTimeout\b/g },
  { name: "setInterval", pattern: /\bsetInterval\b/g },
  { name: "performance", pattern: /\bperformance\b/g },
  { name: "crypto.randomUUID", pattern: /\bcrypto\s*\.\s*randomUUID\b/g },
  { name: "console", pattern: /\bconsole\b/g },
];

/** `from "x"`, `import "x"`, `import("x")`, `export ... from "x"`: the quoted specifier. */
const SPECIFIER = /\b(?:from|import)\s*\(?\s*(["'])([^"'\n]+)\1/g;

/** Characters after which a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set([..."(,=:[!&|?{};+-*%<>~^", ""]);
const KEYWORDS_BEFORE_REGEX = /\b(?:return|typeof|case|do|else|in|of|yield|await|void)$/;

/**
 * Two views of `text`, the same length and lines: `code` with comments blanked, and
 * `bare` with the text of string, template and regular expression literals blanked too
 * (the `${...}` of a template stays code). Blanking keeps newlines, so offsets and line
 * numbers still match the file.
 */
function stripComments(text: string): { code: string; bare: string } {
  const code: string[] = [];
  const bare: string[] = [];
  const blank = (char: string) => char === "\n" ? "\n" : " ";
  /** Open `${` of templates: the brace depth at which each one closes. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const push = (char: string, inCode: boolean, inBare: boolean) => {
    code.push(inCode ? char : blank(char));
    bare.push(inBare ? char : blank(char));
  };
  const lastSignificant = () => {
    for (let j = bare.length - 1; j >= 0; j--) {
      const char = bare[j] ?? "";
      if (!/\s/.test(char)) {
        // A keyword such as `return` before the slash: look at the word that ends here.
        const word = bare.slice(Math.max(0, j - 8), j + 1).join("");
        return KEYWORDS_BEFORE_REGEX.test(word) ? "" : char;
      }
    }
    return "";
  };
  /**
   * Copies a literal (string, template text or regular expression) from `i`: its opening
   * quote, or for a template the `}` that ends a `${...}`, then its text.
   */
  const literal = (close: string, template: boolean) => {
    push(text[i] ?? "", true, true);
    i++;
    let inClass = false;
    while (i < text.length) {
      const char = text[i] ?? "";
      if (char === "\\") {
        push(char, true, false);
        push(text[i + 1] ?? "", true, false);
        i += 2;
        continue;
      }
      if (template && char === "$" && text[i + 1] === "{") {
        push("$", true, true);
        push("{", true, true);
        i += 2;
        templates.push(depth);
        depth++;
        return; // back to code until the matching `}`
      }
      if (close === "/" && char === "[") inClass = true;
      if (close === "/" && char === "]") inClass = false;
      if (char === close && !inClass) {
        push(char, true, true);
        i++;
        return;
      }
      if (char === "\n" && !template) return; // unterminated: stop at the line's end
      push(char, true, false);
      i++;
    }
  };
  while (i < text.length) {
    const char = text[i] ?? "";
    const next = text[i + 1] ?? "";
    if (char === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") push(text[i++] ?? "", false, false);
    } else if (char === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      while (i < stop) push(text[i++] ?? "", false, false);
    } else if (char === '"' || char === "'") {
      literal(char, false);
    } else if (char === "`") {
      literal("`", true);
    } else if (char === "/" && BEFORE_REGEX.has(lastSignificant())) {
      literal("/", false);
    } else if (char === "}" && templates.at(-1) === depth - 1) {
      templates.pop();
      depth--;
      literal("`", true); // the template goes on after the `}` of its `${...}`
    } else {
      if (char === "{") depth++;
      if (char === "}") depth--;
      push(char, true, true);
      i++;
    }
  }
  return { code: code.join(""), bare: bare.join("") };
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text[i] === "\n") line++;
  return line;
}

/** Every break of the layer rule in `files`, in path order, then in order within a file. */
function layerViolations(files: readonly SourceFile[]): Violation[] {
  const found: (Violation & { readonly offset: number })[] = [];
  const report = (path: string, text: string, offset: number, what: string, rule: string) => {
    const line = lineAt(text, offset);
    found.push({ path, line, rule, message: `${path}:${line} ${what}: ${rule}`, offset });
  };
  for (const { path, text } of files) {
    const inCore = path.startsWith("lib/core/");
    const inAdapters = path.startsWith("lib/adapters/");
    const { code, bare } = stripComments(text);
    for (const match of code.matchAll(SPECIFIER)) {
      const specifier = match[2] ?? "";
      const at = match.index + match[0].indexOf(match[1] ?? '"');
      const what = `imports ${JSON.stringify(specifier)}`;
      const target = specifier.startsWith(".")
        ? posix.normalize(posix.join(posix.dirname(path), specifier))
        : specifier;
      if (inCore && /^lib\/(adapters|runtime)\//.test(target)) {
        report(path, text, at, what, CORE_IMPORT_RULE);
      }
      if (inAdapters && target.startsWith("lib/runtime/")) {
        report(path, text, at, what, ADAPTER_IMPORT_RULE);
      }
      if (/(^|\/)(index|mod)\.ts$/.test(target)) report(path, text, at, what, BARREL_RULE);
    }
    if (inCore) {
      for (const { name, pattern } of IMPURE) {
        for (const match of bare.matchAll(pattern)) {
          report(path, text, match.index, `uses ${JSON.stringify(name)}`, CORE_PURE_RULE);
        }
      }
    }
  }
  return found
    .sort((a, b) => a.path.localeCompare(b.path) || a.offset - b.offset)
    .map(({ offset: _, ...violation }) => violation);
}

/** Every non-test `.ts` file under `lib/`, by its path from the repository root. */
async function libFiles(): Promise<SourceFile[]> {
  const root = new URL("../", import.meta.url);
  const files: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
        files.push({ path, text: await Deno.readTextFile(new URL(path, root)) });
      }
    }
  };
  await walk("lib/");
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

Deno.test("layerViolations()", async (t) => {
  const cases: readonly {
    name: string;
    files: readonly SourceFile[];
    expected: readonly string[];
  }[] = [
    {
      name: "reports a core file importing an adapter, with file, line and rule",
      files: [{
        path: "lib/core/plan.ts",
        text:
          'import type { Route } from "../model.ts";\nimport { x } from "../adapters/ec2.ts";\n',
      }],
      expected: [
        'lib/core/plan.ts:2 imports "../adapters/ec2.ts": the core may not import adapters or runtime',
      ],
    },
    {
      name: "reports a type-only import of the runtime from the core, at its specifier's line",
      files: [{
        path: "lib/core/decide.ts",
        text: 'import type {\n  Apply,\n} from "../runtime/apply.ts";\n',
      }],
      expected: [
        'lib/core/decide.ts:3 imports "../runtime/apply.ts": the core may not import adapters or runtime',
      ],
    },
    {
      name: "reports re-exports and dynamic imports too",
      files: [{
        path: "lib/core/a.ts",
        text: 'export { b } from "../adapters/b.ts";\nconst c = await import("../runtime/c.ts");\n',
      }],
      expected: [
        'lib/core/a.ts:1 imports "../adapters/b.ts": the core may not import adapters or runtime',
        'lib/core/a.ts:2 imports "../runtime/c.ts": the core may not import adapters or runtime',
      ],
    },
    {
      name: "reports each impure use in the core",
      files: [{
        path: "lib/core/election.ts",
        text: [
          "export const now = Date.now();",
          "setTimeout(() => {}, 1); setInterval(() => {}, 1);",
          "const t = performance.now(); const id = crypto.randomUUID();",
          "console.log(Deno.args);",
        ].join("\n"),
      }],
      expected: [
        'lib/core/election.ts:1 uses "Date.now": ' + CORE_PURE_RULE,
        'lib/core/election.ts:2 uses "setTimeout": ' + CORE_PURE_RULE,
        'lib/core/election.ts:2 uses "setInterval": ' + CORE_PURE_RULE,
        'lib/core/election.ts:3 uses "performance": ' + CORE_PURE_RULE,
        'lib/core/election.ts:3 uses "crypto.randomUUID": ' + CORE_PURE_RULE,
        'lib/core/election.ts:4 uses "console": ' + CORE_PURE_RULE,
        'lib/core/election.ts:4 uses "Deno.": ' + CORE_PURE_RULE,
      ],
    },
    {
      name: "reports code inside a template's ${...}",
      files: [{ path: "lib/core/a.ts", text: "const s = `at ${Date.now()} ms`;\n" }],
      expected: ['lib/core/a.ts:1 uses "Date.now": ' + CORE_PURE_RULE],
    },
    {
      name: "ignores comments and string text that mention Deno., console or an adapter",
      files: [{
        path: "lib/core/a.ts",
        text: [
          "/** Unlike `Deno.connect`, pure; see ../adapters/probe.ts. */",
          '// import { x } from "../adapters/x.ts"; Date.now()',
          'const help = "console output goes to Deno.stderr, like setTimeout";',
          "const url = 'https://example.com/a'; // a string with // inside",
          "const re = /\\/\\*not a comment/; const later = 1; // console",
          "const s = `template console ${'x'} Deno.exit`;",
          "/* block",
          "   console.log() */ export const ok = true;",
        ].join("\n"),
      }],
      expected: [],
    },
    {
      name: "still sees code after a // in a string, a /* in a regex and a } in a template",
      files: [{
        path: "lib/core/a.ts",
        text: [
          'const url = "https://example.com"; export const a = Date.now();',
          "const re = /[/*]+/g; export const b = Date.now();",
          "const s = `${ {a: 1}.a }`; export const c = Date.now();",
          "const half = total / 2 / 1; export const d = Date.now();",
        ].join("\n"),
      }],
      expected: [1, 2, 3, 4].map((line) =>
        `lib/core/a.ts:${line} uses "Date.now": ${CORE_PURE_RULE}`
      ),
    },
    {
      name: "allows the core to import the vocabulary, its own files, npm and deno.json",
      files: [{
        path: "lib/core/version.ts",
        text: [
          'import type { NatInstance } from "../model.ts";',
          'import { plan } from "./plan.ts";',
          'import { parseArgs } from "node:util";',
          'import denoConfig from "../../deno.json" with { type: "json" };',
        ].join("\n"),
      }],
      expected: [],
    },
    {
      name: "reports an adapter importing the runtime, and allows it the core",
      files: [{
        path: "lib/adapters/ec2.ts",
        text: 'import type { Config } from "../core/config.ts";\n' +
          'import { apply } from "../runtime/apply.ts";\n',
      }],
      expected: [
        'lib/adapters/ec2.ts:2 imports "../runtime/apply.ts": adapters may not import the runtime',
      ],
    },
    {
      name: "allows the runtime every layer, and Deno. and Date.now outside the core",
      files: [
        {
          path: "lib/runtime/loop.ts",
          text: 'import { ec2 } from "../adapters/ec2.ts";\nDeno.exit(Date.now());\n',
        },
        { path: "lib/adapters/clock.ts", text: "export const now = () => Date.now();\n" },
      ],
      expected: [],
    },
    {
      name: "reports a barrel import anywhere",
      files: [
        { path: "lib/runtime/a.ts", text: 'import { b } from "../core/index.ts";\n' },
        { path: "lib/adapters/c.ts", text: 'export * from "./mod.ts";\n' },
      ],
      expected: [
        'lib/adapters/c.ts:1 imports "./mod.ts": ' + BARREL_RULE,
        'lib/runtime/a.ts:1 imports "../core/index.ts": ' + BARREL_RULE,
      ],
    },
    {
      name: "judges the path an import resolves to, not how it is spelled",
      files: [{ path: "lib/core/a.ts", text: 'import "./../core/../adapters/log.ts";\n' }],
      expected: [
        'lib/core/a.ts:1 imports "./../core/../adapters/log.ts": ' + CORE_IMPORT_RULE,
      ],
    },
  ];
  for (const { name, files, expected } of cases) {
    await t.step(`layerViolations() ${name}`, () => {
      assert.deepEqual(layerViolations(files).map((v) => v.message), expected);
    });
  }
});

Deno.test("lib/ keeps the layer rule", async (t) => {
  const files = await libFiles();

  await t.step("the scan sees every layer", () => {
    for (const dir of ["lib/core/", "lib/adapters/", "lib/runtime/"]) {
      assert.ok(files.some((file) => file.path.startsWith(dir)), `no file under ${dir}`);
    }
    assert.ok(files.some((file) => file.path === "lib/model.ts"), "lib/model.ts is scanned");
    assert.ok(!files.some((file) => file.path.endsWith("_test.ts")), "tests are not scanned");
  });

  await t.step("no file under lib/ breaks it", () => {
    assert.deepEqual(layerViolations(files).map((violation) => violation.message), []);
  });
});
