// Keeps the layout honest. Run by `deno task check`; exits 1 listing every
// violation.
// - The core stays portable: mod.ts and src/*.ts (not the adapter folders,
//   not tests or benchmarks) import only each other, do not touch `Deno`,
//   and never log.
// - Rooms keep their privates: a `_` file is imported only from its own
//   folder (src/grpc/status/ counts as src/grpc/), so what two folders share
//   is a named module. Test code may reach another folder's `_testing.ts`.
// - src/ never imports tests/, and published code never imports test
//   helpers (`_testing.ts`, src/_testing/, tests/).
import { basename, dirname, join, relative, resolve, sep as SEPARATOR } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");
const specifier = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

/** A file's code without comments: doc comments may show imports and Deno usage; code may not. */
function codeOf(file: string): string {
  return Deno.readTextFileSync(file)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

/** The relative imports of `file`, resolved, with the specifier as written. */
function importsOf(file: string): { spec: string; target: string | undefined }[] {
  return [...codeOf(file).matchAll(specifier)].map(([, spec]) => ({
    spec,
    target: spec.startsWith(".") ? resolve(dirname(file), spec) : undefined,
  }));
}

function checkCore(problems: string[]): number {
  const coreFiles = [join(root, "mod.ts")];
  for (const entry of Deno.readDirSync(src)) {
    const name = entry.name;
    if (entry.isFile && name.endsWith(".ts") && !/_(test|bench)\.ts$/.test(name)) {
      coreFiles.push(join(src, name));
    }
  }
  const core = new Set(coreFiles);
  for (const file of coreFiles) {
    const where = relative(root, file);
    for (const { spec, target } of importsOf(file)) {
      if (target === undefined || !core.has(target)) {
        problems.push(`${where}: imports ${JSON.stringify(spec)}, which is not a core file`);
      }
    }
    const code = codeOf(file);
    if (/\bDeno\./.test(code)) problems.push(`${where}: uses the Deno namespace`);
    // Node's globals are absent in browsers (the bundle test would fail late).
    if (/\b(?:process|Buffer)\.|\brequire\(/.test(code)) {
      problems.push(`${where}: uses Node globals`);
    }
    // The core never logs: adapters take a logger.
    if (/\bconsole\./.test(code)) problems.push(`${where}: logs to the console`);
  }
  return coreFiles.length;
}

/** Every TypeScript file of the repository, outside node_modules and dot folders. */
function* tsFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

/** The folder that owns a file: src/ (the core), src/<adapter>/, tests/, cli/, or the root. */
function roomOf(file: string): string {
  const parts = relative(root, file).split(SEPARATOR);
  if (parts[0] === "src" && parts.length > 2) return `src/${parts[1]}`;
  return parts.length > 1 ? parts[0] : ".";
}

function inside(file: string, dir: string): boolean {
  return file.startsWith(join(root, dir) + SEPARATOR);
}

/** Tests, benchmarks and their helpers: not published, free to reach test seams. */
function isTestCode(file: string): boolean {
  return /_(test|bench)\.ts$/.test(file) || isTestHelper(file) || inside(file, "tests");
}

function isTestHelper(file: string): boolean {
  return basename(file) === "_testing.ts" || inside(file, "src/_testing");
}

function checkRooms(problems: string[]): number {
  let count = 0;
  for (const file of tsFiles(root)) {
    count++;
    const where = relative(root, file);
    for (const { spec, target } of importsOf(file)) {
      if (target === undefined) continue;
      const quoted = JSON.stringify(spec);
      if (inside(file, "src") && inside(target, "tests")) {
        problems.push(`${where}: imports ${quoted}: src/ never imports tests/`);
      } else if (!isTestCode(file) && inside(file, "src") && isTestHelper(target)) {
        problems.push(`${where}: imports ${quoted}, a test helper, from published code`);
      } else if (basename(target).startsWith("_") && roomOf(target) !== roomOf(file)) {
        if (isTestCode(file) && isTestHelper(target)) continue;
        problems.push(
          `${where}: imports ${quoted}, private to ${roomOf(target)}/: share it as a named module`,
        );
      }
    }
  }
  return count;
}

const problems: string[] = [];
const coreCount = checkCore(problems);
const fileCount = checkRooms(problems);
if (problems.length > 0) {
  console.error(`Boundary violated:\n${problems.join("\n")}`);
  Deno.exit(1);
}
console.log(
  `Core boundary holds: ${coreCount} files import only core files. ` +
    `Rooms hold: no import of another folder's _ files or of tests/ in ${fileCount} files.`,
);
