// The expressions consuming what their children carry: functions,
// operators, comparisons, CASE, COALESCE, arrays, aggregates, subqueries.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/expr_checker.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator::expr {
namespace {

bool IsLikeTaint(Taint t) { return t == Taint::kLabelText || t == Taint::kLabelTextArray; }

// Friendlier names of the operators a label as text is most often used with.
std::string OperatorWord(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kWords = {
      {"~~(", "LIKE"},
      {"~~*(", "ILIKE"},
      {"!~~(", "NOT LIKE"},
      {"!~~*(", "NOT ILIKE"},
      {"~(", "a regular expression"},
      {"~*(", "a regular expression"},
      {"!~(", "a regular expression"},
      {"||(", "concatenation"},
      {"<(", "an ordering"},
      {">(", "an ordering"},
      {"<=(", "an ordering"},
      {">=(", "an ordering"}};
  for (const auto& [prefix, word] : kWords) {
    if (name.rfind(prefix, 0) == 0) return absl::StrCat(word, " (", name, ")");
  }
  return name;
}

}  // namespace

Val Checker::Func(const TreeNode& n) {
  const int64_t fn = n.Int("funcid").value_or(0);
  for (const TreeNode& a : Items(n.Field("args"))) {
    const Val v = Eval(a);
    if (v.tainted()) {
      Refuse(absl::StrCat("it passes ", What(v), " to function ", NameOf(fn),
                          ": what the function does with a label cannot be rewritten"));
    }
  }
  if (TaintOf(n.Int("funcresulttype").value_or(0)) != Taint::kNone) {
    Refuse(absl::StrCat("function ", NameOf(fn), " returns the status type (or a row holding it)"));
  }
  return {};
}

Val Checker::Op(const TreeNode& n) {
  const int64_t op = n.Int("opno").value_or(0);
  std::vector<Val> args;
  for (const TreeNode& a : Items(n.Field("args"))) args.push_back(Eval(a));
  const bool tainted =
      std::any_of(args.begin(), args.end(), [](const Val& v) { return v.tainted(); });
  if (!tainted) {
    if (TaintOf(n.Int("opresulttype").value_or(0)) != Taint::kNone) {
      Refuse(absl::StrCat("operator ", NameOf(op), " yields the status type"));
    }
    return {};
  }
  const Val& first =
      *std::find_if(args.begin(), args.end(), [](const Val& v) { return v.tainted(); });
  if (n.text != "NULLIFEXPR" && args.size() == 2) {
    if (op == kEnumEq || op == kEnumNe) return CompareValues(args[0], args[1], op);
    if (op == kTextEq || op == kTextNe || op == kBpcharEq || op == kBpcharNe) {
      return CompareText(args[0], args[1], op);
    }
    if (op >= kEnumLt && op <= kEnumGe) {
      Refuse(absl::StrCat(
          "an ordering comparison of labels (", NameOf(op),
          "): the order of a label among the others differs between the label sets; compare "
          "with = or IN instead"));
      return {};
    }
  }
  Refuse(absl::StrCat("it uses ", What(first), " with ",
                      n.text == "NULLIFEXPR" ? "NULLIF" : OperatorWord(NameOf(op)),
                      ": only comparisons with label literals by =, <>, IN can be rewritten for "
                      "the new labels"));
  return {};
}

Val Checker::CompareValues(const Val& a, const Val& b, int64_t op) {
  (void)op;
  if (a.is_const || b.is_const) {
    if (a.taint != b.taint) Refuse("it compares a value of the status type with another type");
    return {};  // the literals were noted where they stand
  }
  const bool old_and_new = old_new_ && a.var_attno != 0 && a.var_attno == b.var_attno &&
                           a.var_no + b.var_no == 3 && a.var_no * b.var_no == 2;
  if (!old_and_new) {
    Refuse(
        "it compares two values of the status type that are not literals: while both label "
        "sets are in use one may hold an old label and the other its new one for the same "
        "status");
  }
  return {};
}

Val Checker::CompareText(const Val& a, const Val& b, int64_t op) {
  const Val& label = IsLikeTaint(a.taint) ? a : b;
  const Val& other = IsLikeTaint(a.taint) ? b : a;
  if (other.is_const && !other.tainted()) {
    for (const std::string& t : other.texts) {
      if (IsKnownLabel(t)) Label(t);
    }
    return {};
  }
  if (IsLikeTaint(other.taint)) return CompareValues(label, other, op);
  Refuse(absl::StrCat(
      "it compares ", What(label),
      " with text that is not a literal: what that text holds cannot be rewritten for the new "
      "labels"));
  return {};
}

Val Checker::ScalarArrayOp(const TreeNode& n) {
  const int64_t op = n.Int("opno").value_or(0);
  const bool any = n.Atom("useOr") == "true";
  const std::vector<TreeNode>& args = Items(n.Field("args"));
  if (args.size() != 2) return Generic(n);
  const Val left = Eval(args[0]);
  const Val right = Eval(args[1]);
  if (!left.tainted() && !right.tainted()) return {};
  const bool set_op = (any && (op == kEnumEq || op == kTextEq || op == kBpcharEq)) ||
                      (!any && (op == kEnumNe || op == kTextNe || op == kBpcharNe));
  if (set_op && left.taint == Taint::kEnum && right.taint == Taint::kEnumArray && right.is_const) {
    return {};
  }
  if (set_op && left.taint == Taint::kLabelText && right.is_const && !right.tainted()) {
    for (const std::string& t : right.texts) {
      if (IsKnownLabel(t)) Label(t);
    }
    return {};
  }
  Refuse(absl::StrCat(
      "it compares ", What(left.tainted() ? left : right), " with ",
      set_op ? "an array that is not a list of label literals" : OperatorWord(NameOf(op)),
      ": only IN / = ANY / <> ALL with label literals can be rewritten"));
  return {};
}

Val Checker::Case(const TreeNode& n) {
  const TreeNode* arg = n.Field("arg");
  const bool simple = arg != nullptr && !arg->IsNull();
  if (simple) case_tests_.push_back(Eval(*arg));
  Val result{TaintOf(n.Int("casetype").value_or(0))};
  const auto take = [&](const Val& r) {
    if (r.taint == Taint::kContainer) Refuse("a CASE yields a row holding the status type");
    if (result.taint == Taint::kNone && IsLikeTaint(r.taint)) result.taint = Taint::kLabelText;
  };
  for (const TreeNode& w : Items(n.Field("args"))) {
    (void)Eval(*w.Field("expr"));
    take(Eval(*w.Field("result")));
  }
  if (const TreeNode* d = n.Field("defresult"); d != nullptr) take(Eval(*d));
  if (simple) case_tests_.pop_back();
  return result;
}

Val Checker::Coalesce(const TreeNode& n) {
  Val result{TaintOf(n.Int("coalescetype").value_or(0))};
  for (const TreeNode& a : Items(n.Field("args"))) {
    const Val v = Eval(a);
    if (result.taint == Taint::kNone && IsLikeTaint(v.taint)) result.taint = Taint::kLabelText;
  }
  return result;
}

Val Checker::Array(const TreeNode& n) {
  const Taint element = TaintOf(n.Int("element_typeid").value_or(0));
  Val result{element == Taint::kEnum ? Taint::kEnumArray : element, true};
  for (const TreeNode& e : Items(n.Field("elements"))) {
    const Val v = Eval(e);
    result.is_const = result.is_const && v.is_const;
    result.texts.insert(result.texts.end(), v.texts.begin(), v.texts.end());
    if (result.taint == Taint::kNone && IsLikeTaint(v.taint)) result.taint = Taint::kLabelTextArray;
  }
  return result;
}

Val Checker::Aggregate(const TreeNode& n, bool window) {
  const int64_t fn = n.Int(window ? "winfnoid" : "aggfnoid").value_or(0);
  const bool carried = fn == kCountAny || fn == kMaxEnum || fn == kMinEnum;
  for (const TreeNode& a : Items(n.Field("args"))) {
    const Val v = Eval(a);
    if (v.tainted() && !(carried && v.taint == Taint::kEnum)) {
      Refuse(absl::StrCat("it aggregates ", What(v), " with ", NameOf(fn),
                          " (count, min and max are carried)"));
    }
  }
  EvalAll(n.Field("aggdirectargs"), "an aggregate's direct arguments");
  if (const TreeNode* f = n.Field("aggfilter"); f != nullptr) (void)Eval(*f);
  return {TaintOf(n.Int(window ? "wintype" : "aggtype").value_or(0))};
}

Val Checker::SubLink(const TreeNode& n) {
  std::vector<Taint> outputs;
  if (const TreeNode* q = n.Field("subselect"); q != nullptr && q->Is("QUERY")) {
    outputs = Query(*q, false);
  }
  const int64_t kind = n.Int("subLinkType").value_or(0);
  case_tests_.push_back(Val{outputs.size() > 1 ? outputs[1] : Taint::kNone});
  if (const TreeNode* t = n.Field("testexpr"); t != nullptr) (void)Eval(*t);
  case_tests_.pop_back();
  if (kind == 4 && outputs.size() > 1) return {outputs[1]};  // a scalar subquery
  if (kind == 6 && outputs.size() > 1 && outputs[1] != Taint::kNone) {
    Refuse("an ARRAY(subquery) collects values of the status type");
  }
  return {};
}
}  // namespace booking::migrator::expr
