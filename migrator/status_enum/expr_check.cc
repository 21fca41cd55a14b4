#include "migrator/status_enum/expr_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/expr_checker.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {
namespace expr {
namespace {

const std::vector<TreeNode>& Items(const TreeNode* list) {
  static const std::vector<TreeNode> kEmpty;
  return list != nullptr && list->kind == TreeNode::Kind::kList ? list->items : kEmpty;
}

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

Taint Checker::TaintOf(int64_t type) const {
  if (type == types_.enum_oid()) return Taint::kEnum;
  if (type == types_.array_oid()) return Taint::kEnumArray;
  if (type > 0 && types_.containers().count(static_cast<uint32_t>(type)) > 0) {
    return Taint::kContainer;
  }
  return Taint::kNone;
}

bool Checker::IsTextLike(int64_t type) {
  return type == 25 || type == 1043 || type == 1042 || type == 19 || type == 705;
}

void Checker::Refuse(const std::string& why) {
  if (std::find(out_.refusals.begin(), out_.refusals.end(), why) == out_.refusals.end()) {
    out_.refusals.push_back(why);
  }
}

void Checker::Label(const std::string& label) {
  out_.labels.push_back(label);
  if (use_ == ExprUse::kBody) {
    Refuse(absl::StrCat("its body names the label '", label,
                        "'; function bodies are not rewritten, so it would answer wrongly once "
                        "rows hold the new labels"));
  }
}

std::string Checker::NameOf(int64_t oid) const {
  auto it = types_.names().find(static_cast<uint32_t>(oid));
  return it != types_.names().end() ? it->second : absl::StrCat("oid ", oid);
}

std::string Checker::What(const Val& v) {
  switch (v.taint) {
    case Taint::kEnum:
      return "a value of the status type";
    case Taint::kEnumArray:
      return "an array of the status type";
    case Taint::kLabelText:
    case Taint::kLabelTextArray:
      return "a status label as text";
    case Taint::kContainer:
      return "a row (or array, domain, range) holding the status type";
    case Taint::kNone:
      break;
  }
  return "a value";
}

Val Checker::Eval(const TreeNode& n) {
  if (n.kind == TreeNode::Kind::kList) {
    EvalAll(&n, "a list");
    return {};
  }
  if (n.kind != TreeNode::Kind::kNode) return {};
  const std::string& tag = n.text;
  if (tag == "CONST") return Const(n);
  if (tag == "VAR") return Var(n);
  if (tag == "PARAM") return {TaintOf(n.Int("paramtype").value_or(0))};
  if (tag == "COERCEVIAIO") return CoerceViaIO(n);
  if (tag == "RELABELTYPE" || tag == "COLLATEEXPR") return Eval(*n.Field("arg"));
  if (tag == "FUNCEXPR") return Func(n);
  if (tag == "OPEXPR" || tag == "DISTINCTEXPR" || tag == "NULLIFEXPR") return Op(n);
  if (tag == "SCALARARRAYOPEXPR") return ScalarArrayOp(n);
  if (tag == "BOOLEXPR") {
    EvalAll(n.Field("args"), "a boolean expression");
    return {};
  }
  if (tag == "NULLTEST" || tag == "BOOLEANTEST") {
    (void)Eval(*n.Field("arg"));  // IS [NOT] NULL of anything is carried
    return {};
  }
  if (tag == "CASEEXPR") return Case(n);
  if (tag == "CASETESTEXPR") {
    return case_tests_.empty() ? Val{TaintOf(n.Int("typeId").value_or(0))} : case_tests_.back();
  }
  if (tag == "COALESCEEXPR") return Coalesce(n);
  if (tag == "ARRAYEXPR") return Array(n);
  if (tag == "AGGREF") return Aggregate(n, false);
  if (tag == "WINDOWFUNC") return Aggregate(n, true);
  if (tag == "SUBLINK") return SubLink(n);
  if (tag == "TARGETENTRY") return Eval(*n.Field("expr"));
  if (tag == "FIELDSELECT") {
    (void)Eval(*n.Field("arg"));  // a field of a row: what the field is
    return {TaintOf(n.Int("resulttype").value_or(0))};
  }
  if (tag == "QUERY") {
    (void)Query(n, false);
    return {};
  }
  return Generic(n);
}

Val Checker::Const(const TreeNode& n) {
  const int64_t type = n.Int("consttype").value_or(0);
  const TreeNode* value = n.Field("constvalue");
  const bool null = value == nullptr || value->IsNull();
  Val v{TaintOf(type), true};
  if (null) return v;
  if (v.taint == Taint::kEnum || v.taint == Taint::kEnumArray) {
    std::vector<uint32_t> oids;
    if (v.taint == Taint::kEnum && value->bytes.size() >= 4) {
      oids.push_back(value->bytes[0] | value->bytes[1] << 8 | value->bytes[2] << 16 |
                     static_cast<uint32_t>(value->bytes[3]) << 24);
    } else if (std::optional<std::vector<uint32_t>> a = ArrayOids(value->bytes)) {
      oids = *a;
    }
    for (uint32_t oid : oids) {
      auto it = types_.labels().find(oid);
      if (it == types_.labels().end()) {
        Refuse(
            absl::StrCat("it names a label of the type the migrator cannot find (oid ", oid, ")"));
      } else {
        Label(it->second);
      }
    }
    return v;
  }
  if (IsTextLike(type)) {
    std::optional<std::string> text = type == 19
                                          ? std::string(value->bytes.begin(), value->bytes.end())
                                          : VarlenaText(value->bytes);
    if (text) v.texts.push_back(text->substr(0, text->find('\0')));
  } else if (type == 1009 || type == 1015 || type == 1014) {  // text[], varchar[], bpchar[]
    if (auto a = ArrayTexts(value->bytes)) v.texts = *a;
  }
  if (use_ == ExprUse::kBody) {
    for (const std::string& t : v.texts) {
      if (IsKnownLabel(t)) Label(t);
    }
  }
  return v;
}

Val Checker::CoerceViaIO(const TreeNode& n) {
  const Val arg = Eval(*n.Field("arg"));
  const int64_t to = n.Int("resulttype").value_or(0);
  const Taint target = TaintOf(to);
  if (target == Taint::kEnum) {  // text -> the type
    if (arg.is_const && !arg.texts.empty()) {
      for (const std::string& t : arg.texts) Label(t);
      return {Taint::kEnum, true};
    }
    Refuse(
        "it turns text computed at run time into the status type: the labels that text holds "
        "cannot be rewritten for the new label set (after contract the old ones fail)");
    return {Taint::kEnum};
  }
  if (arg.taint == Taint::kEnum || arg.taint == Taint::kLabelText) {
    if (IsTextLike(to)) return {Taint::kLabelText};
    Refuse(absl::StrCat("it converts ", What(arg), " to ", NameOf(to)));
    return {};
  }
  if (arg.tainted() || target != Taint::kNone) {
    Refuse(absl::StrCat("it converts ", What(arg), " by text output and input"));
  }
  return {};
}

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

}  // namespace expr

ExprVerdict CheckStoredExpr(absl::string_view tree, ExprUse use,
                            const ::migrator::v1::TypeFacts& types,
                            const LabelTextColumns& label_text_columns, bool old_new) {
  ExprVerdict verdict;
  absl::StatusOr<TreeNode> parsed = ParseNodeTree(tree);
  if (!parsed.ok()) {
    verdict.refusals.push_back(
        absl::StrCat("its stored form cannot be read (", parsed.status().message(), ")"));
    return verdict;
  }
  expr::Checker checker(types, label_text_columns, use, old_new, verdict);
  if (use == ExprUse::kQueries || use == ExprUse::kBody) {
    std::vector<const TreeNode*> queries = {&*parsed};
    for (size_t i = 0; i < queries.size(); ++i) {  // lists of queries (of lists, for bodies)
      if (queries[i]->kind == TreeNode::Kind::kList) {
        for (const TreeNode& item : queries[i]->items) queries.push_back(&item);
      } else if (queries[i]->Is("QUERY")) {
        (void)checker.Query(*queries[i], use == ExprUse::kQueries);
      }
    }
    return verdict;
  }
  const expr::Val v = checker.Eval(*parsed);
  if (v.taint == expr::Taint::kContainer) {
    verdict.refusals.push_back("it yields a row (or array) holding the status type");
  }
  return verdict;
}

}  // namespace booking::migrator
