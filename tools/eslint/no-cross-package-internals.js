// Packages talk to each other only through their public entry (`@guildhall/<name>`), so that what
// one package exports is exactly what users can rely on. This rule refuses the two ways around it:
// a deep specifier (`@guildhall/core/src/ids.js`, `@guildhall/core/dist/…`) and a relative path
// that climbs out of one package into another's folder.
import path from "node:path";

const PACKAGES_DIR = `${path.sep}packages${path.sep}`;

/** The package folder name a file belongs to, or undefined outside packages/. */
function packageOf(file) {
  const at = file.lastIndexOf(PACKAGES_DIR);
  if (at < 0) return undefined;
  return file.slice(at + PACKAGES_DIR.length).split(path.sep)[0];
}

/** @type {import("eslint").Rule.RuleModule} */
export default {
  meta: {
    type: "problem",
    docs: { description: "Import other Guildhall packages only through their public entry." },
    messages: {
      deep: "Import '{{name}}' instead of its internals '{{spec}}': only the package entry is public.",
      relative:
        "'{{spec}}' reaches into package '{{other}}'; import '@guildhall/{{other}}' instead.",
    },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const own = packageOf(file);
    function check(node) {
      const spec = node.source?.value;
      if (typeof spec !== "string") return;
      const deep = /^(@guildhall\/[^/]+)\/(?!package\.json$).+/.exec(spec);
      if (deep) {
        context.report({ node, messageId: "deep", data: { name: deep[1], spec } });
        return;
      }
      if (!spec.startsWith(".")) return;
      const target = packageOf(path.resolve(path.dirname(file), spec));
      if (target !== undefined && target !== own) {
        context.report({ node, messageId: "relative", data: { spec, other: target } });
      }
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
