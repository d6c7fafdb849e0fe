import js from "@eslint/js";
import tseslint from "typescript-eslint";
import noCrossPackageInternals from "./tools/eslint/no-cross-package-internals.js";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.nx/**", "packages/proto/src/gen/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { guildhall: { rules: { "no-cross-package-internals": noCrossPackageInternals } } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "guildhall/no-cross-package-internals": "error",
      // One private-field style: `#x` is private at run time too; `private` only hides a name from
      // the compiler. A private constructor has no `#` form, so it stays allowed.
      "no-restricted-syntax": [
        "error",
        {
          selector:
            ":matches(PropertyDefinition, MethodDefinition[kind!='constructor'], TSParameterProperty)[accessibility='private']",
          message: "Use a #private member instead of the `private` keyword.",
        },
      ],
      // Server-streaming handlers are async generators that may have nothing to await.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { "@typescript-eslint/consistent-type-imports": "off" },
  },
);
