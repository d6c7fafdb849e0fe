// Where a command's settings come from: its flag, else the first of its environment variables that
// is set. One rule for every command, so that `--token ""` or `GUILDHALL_PORT=" "` mean the same
// wherever they are given.

/** The environment a command reads its settings from; `process.env` outside tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The value of a setting: `flag` if given, else the first of the variables `names` that is set,
 * trimmed. A blank value (empty or only whitespace) counts as unset: a variable left empty in a
 * container spec, or a flag such as `--token "$UNSET"`, falls through to the next source instead
 * of being refused or used as an empty string.
 */
export function pick(flag: string | undefined, env: Env, ...names: string[]): string | undefined {
  for (const value of [flag, ...names.map((name) => env[name])]) {
    if (value !== undefined && value.trim() !== "") return value.trim();
  }
  return undefined;
}
