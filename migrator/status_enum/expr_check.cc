#include "migrator/status_enum/expr_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/body_scan.h"
#include "migrator/status_enum/expr_checker.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {
namespace expr {

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
  if (use_ == ExprUse::kBody && IsOldOnly(label)) {
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
      for (const std::string& l : OldLabelsMatched(t)) {
        Refuse(absl::StrCat("its body names '", t, "', which is (or matches) the old label ", l,
                            "; function bodies are not rewritten, so it would answer wrongly once "
                            "rows hold the new labels"));
      }
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
