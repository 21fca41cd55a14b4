// The metric names a PromQL expression reads, for checking dashboards and
// alert rules against what the services export; and the expressions of an
// alert-rules file, read without a YAML library.
#ifndef TESTS_SUPPORT_PROMQL_NAMES_H_
#define TESTS_SUPPORT_PROMQL_NAMES_H_

#include <set>
#include <string>
#include <vector>

namespace booking::testing {

// Identifiers that stand as a selector: not functions (followed by "("),
// aggregations, keywords, label names (inside {...} and by/without/on/
// ignoring/group_left/group_right lists), strings, numbers, durations or
// Grafana variables ($name, ${name}).
std::set<std::string> MetricNamesIn(const std::string& expr);

// Every `expr:` of a rules file: on its line, or a block scalar (| or >-)
// on the lines indented below it.
std::vector<std::string> RuleExpressions(const std::string& yaml);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_PROMQL_NAMES_H_
