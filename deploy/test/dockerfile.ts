// A Dockerfile parser for static checks (no Docker engine is needed): instructions with their line,
// line continuations and comments handled, grouped into build stages, with the global ARG defaults
// substituted into FROM. Instructions BuildKit would not know are refused.
const INSTRUCTIONS = new Set([
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);

/** One instruction: its keyword (upper case), its arguments as written, and its first line. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** A build stage: its base image, its name (`AS name`) and its instructions after FROM. */
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** The instructions of `text`, continuation lines joined. */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trimEnd();
    // Comments (and parser directives) are whole lines; inside a continuation they are skipped too.
    if (line.trimStart().startsWith("#")) continue;
    if (pending === "" && line.trim() === "") continue;
    if (pending === "") start = index + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = "";
    const match = /^(\S+)\s*(.*)$/s.exec(whole);
    const keyword = match?.[1]?.toUpperCase() ?? "";
    if (!INSTRUCTIONS.has(keyword))
      throw new Error(`line ${start}: unknown instruction ${keyword}`);
    instructions.push({ keyword, args: match?.[2] ?? "", line: start });
  }
  if (pending !== "") throw new Error("the Dockerfile ends inside a line continuation");
  return instructions;
}

/** Replaces `${NAME}` and `$NAME` with their values in `vars`. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced?: string, bare?: string) => vars.get(braced ?? bare ?? "") ?? whole,
  );
}

/** The build stages of the Dockerfile `text`. */
export function parseDockerfile(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of parseInstructions(text)) {
    const current = stages.at(-1);
    if (instruction.keyword === "FROM") {
      const [image, as, name, ...rest] = substitute(instruction.args, globalArgs).split(/\s+/);
      const named = as?.toUpperCase() === "AS";
      if (
        image === undefined ||
        (as !== undefined && (!named || name === undefined)) ||
        rest.length > 0
      ) {
        throw new Error(`line ${instruction.line}: FROM must be "FROM image [AS name]"`);
      }
      stages.push({ from: image, name: named ? name : undefined, instructions: [] });
    } else if (current !== undefined) {
      current.instructions.push(instruction);
    } else if (instruction.keyword === "ARG") {
      const [name, value = ""] = instruction.args.split("=", 2);
      globalArgs.set(name?.trim() ?? "", value.trim());
    } else {
      throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

/** The JSON array of an exec-form instruction (ENTRYPOINT, CMD), refusing the shell form. */
export function execForm(instruction: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(instruction.args);
  } catch {
    throw new Error(`line ${instruction.line}: ${instruction.keyword} is not in exec (JSON) form`);
  }
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === "string")) {
    throw new Error(`line ${instruction.line}: ${instruction.keyword} must be a JSON string array`);
  }
  return parsed;
}

/** The flags (`--from=build`) and the remaining words of a COPY or ADD. */
export function copyArguments(instruction: Instruction): {
  readonly flags: ReadonlyMap<string, string>;
  readonly sources: readonly string[];
  readonly destination: string;
} {
  const words = instruction.args.trim().split(/\s+/);
  const flags = new Map<string, string>();
  while (words[0]?.startsWith("--") === true) {
    const [flag = "", value = ""] = (words.shift() ?? "").slice(2).split("=", 2);
    flags.set(flag, value);
  }
  const destination = words.pop();
  if (destination === undefined || words.length === 0) {
    throw new Error(
      `line ${instruction.line}: ${instruction.keyword} needs sources and a destination`,
    );
  }
  return { flags, sources: words, destination };
}

/** The arguments of every `keyword` instruction of `stage`, in order. */
export function instructionArgs(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** The environment variables `stage` sets with `ENV name=value …` (values without spaces). */
export function stageEnv(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const args of instructionArgs(stage, "ENV")) {
    for (const [, name = "", value = ""] of args.matchAll(/(\w+)=(\S+)/g)) env.set(name, value);
  }
  return env;
}
