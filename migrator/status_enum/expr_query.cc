// Queries (a view's, a rule's actions, subqueries, CTEs, a SQL function's
// body), the columns they read, and the default for every other node.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrator/status_enum/expr_checker.h"

namespace booking::migrator::expr {
namespace {

constexpr int kMaxDepth = 64;

// An atom field naming a type: its value is checked even where the node is
// not known.
bool NamesType(const std::string& field) {
  return absl::EndsWith(field, "type") || absl::EndsWith(field, "typid") ||
         absl::EndsWith(field, "typeid") || absl::EndsWith(field, "typeId") || field == "typeOid";
}

}  // namespace

Val Checker::Var(const TreeNode& n) {
  const int64_t type = n.Int("vartype").value_or(0);
  Val v{TaintOf(type)};
  const int64_t levelsup = n.Int("varlevelsup").value_or(0);
  const int varno = static_cast<int>(n.Int("varno").value_or(0));
  const int attno = static_cast<int>(n.Int("varattno").value_or(0));
  if (levelsup == 0) {
    v.var_no = varno;
    v.var_attno = attno;
  }
  if (v.taint == Taint::kNone && IsTextLike(type) &&
      levelsup < static_cast<int64_t>(scopes_.size())) {
    v.taint = ResolveTextVar(scopes_.size() - 1 - levelsup, varno, attno, 0);
  }
  return v;
}

// A text column read from a view or subquery that passes a label out as text.
Taint Checker::ResolveTextVar(size_t scope, int varno, int attno, int depth) {
  const Scope& s = scopes_[scope];
  const std::vector<TreeNode>& rtable = Items(s.rtable);
  if (depth > kMaxDepth || varno < 1 || varno > static_cast<int>(rtable.size()) || attno < 1) {
    return Taint::kNone;
  }
  const TreeNode& rte = rtable[varno - 1];
  const int64_t kind = rte.Int("rtekind").value_or(-1);
  if (kind == 0) {  // a relation: a view passing a label out as text
    const int64_t relid = rte.Int("relid").value_or(0);
    return ltc_.count({static_cast<uint32_t>(relid), attno}) > 0 ? Taint::kLabelText : Taint::kNone;
  }
  const std::vector<Taint>* outputs = nullptr;
  if (kind == 1) {
    auto it = s.outputs.find(varno);
    if (it != s.outputs.end()) outputs = &it->second;
  } else if (kind == 6) {  // a CTE, maybe of an outer query
    const size_t up = static_cast<size_t>(rte.Int("ctelevelsup").value_or(0));
    if (up <= scope) {
      const auto& ctes = scopes_[scope - up].ctes;
      auto it = ctes.find(rte.Atom("ctename"));
      if (it != ctes.end()) outputs = &it->second;
    }
  } else if (kind == 2) {  // a join: the column it stands for
    const std::vector<TreeNode>& vars = Items(rte.Field("joinaliasvars"));
    if (attno <= static_cast<int>(vars.size()) && vars[attno - 1].Is("VAR")) {
      const TreeNode& inner = vars[attno - 1];
      return ResolveTextVar(scope, static_cast<int>(inner.Int("varno").value_or(0)),
                            static_cast<int>(inner.Int("varattno").value_or(0)), depth + 1);
    }
  }
  if (outputs != nullptr && attno < static_cast<int>(outputs->size())) return (*outputs)[attno];
  return Taint::kNone;
}

void Checker::RangeTable(const TreeNode& rtable) {
  const std::vector<TreeNode>& entries = Items(&rtable);
  for (size_t i = 0; i < entries.size(); ++i) {
    const TreeNode& rte = entries[i];
    const int64_t kind = rte.Int("rtekind").value_or(-1);
    if (kind == 1) {
      if (const TreeNode* q = rte.Field("subquery"); q != nullptr && q->Is("QUERY")) {
        std::vector<Taint> outputs = Query(*q, false);
        scopes_.back().outputs[static_cast<int>(i) + 1] = std::move(outputs);
      }
    } else if (kind == 3) {  // functions in FROM
      for (const TreeNode& f : Items(rte.Field("functions"))) (void)Eval(*f.Field("funcexpr"));
    } else if (kind == 5) {  // VALUES: each value passes out as a column
      for (const TreeNode& row : Items(rte.Field("values_lists"))) {
        for (const TreeNode& value : row.items) {
          if (Eval(value).taint == Taint::kContainer) Refuse("VALUES holds a row of the type");
        }
      }
    } else if (kind == 4) {
      (void)Generic(rte);
    }
  }
}

std::vector<Taint> Checker::Query(const TreeNode& q, bool top) {
  if (scopes_.size() > kMaxDepth) {
    Refuse("its queries are nested too deeply to check");
    return {};
  }
  scopes_.push_back(Scope{q.Field("rtable"), {}, {}});
  for (const TreeNode& cte : Items(q.Field("cteList"))) {
    const TreeNode* body = cte.Field("ctequery");
    if (body == nullptr || !body->Is("QUERY")) continue;
    std::vector<Taint> outputs = Query(*body, false);
    scopes_.back().ctes[cte.Atom("ctename")] = std::move(outputs);
  }
  if (const TreeNode* rtable = q.Field("rtable"); rtable != nullptr) RangeTable(*rtable);
  if (const TreeNode* join = q.Field("jointree"); join != nullptr) (void)Eval(*join);
  std::vector<Taint> outputs(1, Taint::kNone);
  for (const char* list : {"targetList", "returningList"}) {
    for (const TreeNode& te : Items(q.Field(list))) {
      const Val v = Eval(te);
      if (v.taint == Taint::kContainer) {
        Refuse("it passes out a whole row (or array) holding the status type");
      }
      if (std::string(list) != "targetList") continue;
      const size_t resno = static_cast<size_t>(te.Int("resno").value_or(0));
      if (outputs.size() <= resno) outputs.resize(resno + 1, Taint::kNone);
      outputs[resno] = v.taint;
      if (top && v.taint == Taint::kLabelText && te.Atom("resjunk") != "true") {
        out_.label_text_outputs.push_back(static_cast<int>(resno));
      }
    }
  }
  for (const char* e : {"havingQual", "limitOffset", "limitCount"}) {
    if (const TreeNode* x = q.Field(e); x != nullptr) (void)Eval(*x);
  }
  for (const char* g : {"onConflict", "withCheckOptions", "mergeActionList", "utilityStmt",
                        "windowClause", "groupingSets"}) {
    if (const TreeNode* x = q.Field(g); x != nullptr) EvalAll(x, g);
  }
  scopes_.pop_back();
  return outputs;
}

void Checker::EvalAll(const TreeNode* node, const std::string& where) {
  if (node == nullptr) return;
  if (node->kind == TreeNode::Kind::kNode) {
    if (Eval(*node).tainted()) {
      Refuse(absl::StrCat("a value of the status type reaches ", node->text, " in ", where,
                          ", which the migrator does not know how to carry"));
    }
    return;
  }
  for (const TreeNode& item : Items(node)) {
    if (item.kind == TreeNode::Kind::kNode || item.kind == TreeNode::Kind::kList) {
      const Val v = Eval(item);
      if (v.tainted()) {
        Refuse(absl::StrCat(What(v), " reaches ", where,
                            ", where the migrator does not know how to carry it"));
      }
    }
  }
}

// A node the checks do not know (or a plain container of expressions):
// nothing of the type may reach it, and it may not yield the type.
Val Checker::Generic(const TreeNode& n) {
  const bool plain = n.text == "FROMEXPR" || n.text == "JOINEXPR" || n.text == "RANGETBLREF" ||
                     n.text == "SORTGROUPCLAUSE" || n.text == "WINDOWCLAUSE" ||
                     n.text == "WITHCHECKOPTION" || n.text == "NOTIFYSTMT" ||
                     n.text == "SETOPERATIONSTMT" || n.text == "ALIAS";
  for (const auto& [field, value] : n.fields) {
    if (value.kind == TreeNode::Kind::kAtom) {
      int64_t type = 0;
      if (!plain && NamesType(field) && absl::SimpleAtoi(value.text, &type) &&
          TaintOf(type) != Taint::kNone) {
        Refuse(absl::StrCat("its ", n.text,
                            " node yields the status type (or a row holding "
                            "it), which the migrator does not know how to carry"));
      }
      continue;
    }
    if (value.kind != TreeNode::Kind::kNode && value.kind != TreeNode::Kind::kList) continue;
    if (n.text == "SETOPERATIONSTMT" && field != "larg" && field != "rarg") continue;
    EvalAll(&value, plain ? std::string("a query") : absl::StrCat("a ", n.text, " node"));
  }
  return {};
}

}  // namespace booking::migrator::expr
