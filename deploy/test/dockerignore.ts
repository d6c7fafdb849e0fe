// .dockerignore matching as BuildKit does it: patterns are relative to the context root, `*` and
// `?` stay within one path segment, `**` spans any number of them, a pattern that matches a
// directory excludes everything under it, and a later `!pattern` takes a path back in.

/** The patterns of a .dockerignore file, comments and blank lines dropped. */
export function parseDockerignore(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

function patternToRegExp(pattern: string): RegExp {
  const clean = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  let source = "";
  for (let i = 0; i < clean.length; i++) {
    const char = clean[i] ?? "";
    if (char === "*" && clean[i + 1] === "*") {
      // `**/` matches zero or more directories; a trailing `**` matches everything.
      const slash = clean[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // Matching a directory excludes what lies under it.
  return new RegExp(`^${source}(?:/.*)?$`);
}

/** Whether the context path `file` (relative, `/`-separated) is left out of the build context. */
export function isIgnored(file: string, patterns: readonly string[]): boolean {
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (patternToRegExp(negated ? pattern.slice(1) : pattern).test(file)) ignored = !negated;
  }
  return ignored;
}
