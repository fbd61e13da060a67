// Keeps the core portable: mod.ts and src/*.ts (not the adapter folders, not
// tests or benchmarks) may import only each other, may not touch `Deno`, and
// never log.
// Run by `deno task check`; exits 1 listing every violation.
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");

const coreFiles = [join(root, "mod.ts")];
for (const entry of Deno.readDirSync(src)) {
  const name = entry.name;
  if (entry.isFile && name.endsWith(".ts") && !/_(test|bench)\.ts$/.test(name)) {
    coreFiles.push(join(src, name));
  }
}
const core = new Set(coreFiles);

const problems: string[] = [];
const specifier = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;
for (const file of coreFiles) {
  // Doc comments may show imports and Deno usage; code may not.
  const code = Deno.readTextFileSync(file)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const where = relative(root, file);
  for (const [, spec] of code.matchAll(specifier)) {
    const target = spec.startsWith(".") ? resolve(dirname(file), spec) : undefined;
    if (target === undefined || !core.has(target)) {
      problems.push(`${where}: imports ${JSON.stringify(spec)}, which is not a core file`);
    }
  }
  if (/\bDeno\./.test(code)) problems.push(`${where}: uses the Deno namespace`);
  // The core never logs: adapters take a logger.
  if (/\bconsole\./.test(code)) problems.push(`${where}: logs to the console`);
}

if (problems.length > 0) {
  console.error(`Core boundary violated:\n${problems.join("\n")}`);
  Deno.exit(1);
}
console.log(`Core boundary holds: ${coreFiles.length} files import only core files.`);
