// The metric names a PromQL expression (or a Grafana variable query) reads, found lexically:
// strings, label matchers, ranges, grouping clauses and Grafana variables are removed, and what
// remains of the identifiers is a metric name unless a function call or a keyword.

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "inf",
  "nan",
]);

/** The metric names `expr` selects, in order of appearance, each once. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(match[0].toLowerCase())) continue;
    names.add(match[0]);
  }
  return [...names];
}

/**
 * The PromQL inside a Grafana Prometheus variable query: the selector of
 * `label_values(selector, label)` or the expression of `query_result(expr)`; none for `label_names()`
 * and `metrics(regex)`, which read no metric.
 */
export function variableQueryExpressions(query: string): string[] {
  const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/s.exec(query);
  if (labelValues?.[1] !== undefined) return [labelValues[1]];
  const queryResult = /^\s*query_result\((.*)\)\s*$/s.exec(query);
  if (queryResult?.[1] !== undefined) return [queryResult[1]];
  if (/^\s*(?:label_names|metrics|label_values)\(/.test(query)) return [];
  return [query];
}
