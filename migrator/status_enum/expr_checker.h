// The walk behind CheckStoredExpr (expr_check.h): each node's value is
// evaluated bottom-up into what it carries (a value of the type, its label
// as text, a row holding it, or nothing of it), and each parent judges
// whether it may consume what its children carry. expr_check.cc holds the
// expressions, expr_query.cc the queries (range tables, Vars, outputs) and
// the default for nodes it does not know.
#ifndef MIGRATOR_STATUS_ENUM_EXPR_CHECKER_H_
#define MIGRATOR_STATUS_ENUM_EXPR_CHECKER_H_

#include <map>
#include <string>
#include <vector>

#include "migrator/status_enum/expr_check.h"
#include "migrator/status_enum/node_tree.h"

namespace booking::migrator::expr {

enum class Taint { kNone, kEnum, kEnumArray, kLabelText, kLabelTextArray, kContainer };

// What a node's value carries.
struct Val {
  Val() = default;
  Val(Taint t, bool literal = false) : taint(t), is_const(literal) {}  // NOLINT: {taint}

  Taint taint = Taint::kNone;
  bool is_const = false;           // literals only
  std::vector<std::string> texts;  // a text literal's value(s)
  int var_no = 0;                  // a plain column reference: its range table entry
  int var_attno = 0;               // ... and column
  bool tainted() const { return taint != Taint::kNone; }
};

// Built-in oids the rules name (fixed in PostgreSQL's catalog).
inline constexpr int64_t kEnumEq = 3516, kEnumNe = 3517, kEnumLt = 3518, kEnumGe = 3521;
inline constexpr int64_t kTextEq = 98, kTextNe = 531, kBpcharEq = 1054, kBpcharNe = 1057;
inline constexpr int64_t kCountAny = 2147, kMaxEnum = 3526, kMinEnum = 3527;

// A list field's items (none when it is not a list).
inline const std::vector<TreeNode>& Items(const TreeNode* list) {
  static const std::vector<TreeNode> kEmpty;
  return list != nullptr && list->kind == TreeNode::Kind::kList ? list->items : kEmpty;
}

// Not thread safe: owned by one thread.
class Checker {
 public:
  Checker(const ::migrator::v1::TypeFacts& types, const LabelTextColumns& label_text_columns,
          ExprUse use, bool old_new, ExprVerdict& out)
      : types_(types), ltc_(label_text_columns), use_(use), old_new_(old_new), out_(out) {}

  Val Eval(const TreeNode& n);
  // A query; its outputs' taints by column number (1-based, index 0 unused).
  std::vector<Taint> Query(const TreeNode& q, bool top);

 private:
  // expr_check.cc
  Val Const(const TreeNode& n);
  Val Var(const TreeNode& n);
  Val CoerceViaIO(const TreeNode& n);
  Val Func(const TreeNode& n);
  Val Op(const TreeNode& n);
  Val CompareValues(const Val& a, const Val& b, int64_t op);
  Val CompareText(const Val& a, const Val& b, int64_t op);
  Val ScalarArrayOp(const TreeNode& n);
  Val Case(const TreeNode& n);
  Val Array(const TreeNode& n);
  Val Aggregate(const TreeNode& n, bool window);
  Val SubLink(const TreeNode& n);
  Val Coalesce(const TreeNode& n);
  // expr_query.cc
  Val Generic(const TreeNode& n);
  void EvalAll(const TreeNode* list_or_node, const std::string& where);
  Taint ResolveTextVar(size_t scope, int varno, int attno, int depth);
  void RangeTable(const TreeNode& rtable);

  Taint TaintOf(int64_t type) const;
  static bool IsTextLike(int64_t type);
  void Refuse(const std::string& why);
  void Label(const std::string& label);
  std::string NameOf(int64_t oid) const;
  static std::string What(const Val& v);

  struct Scope {
    const TreeNode* rtable = nullptr;
    std::map<int, std::vector<Taint>> outputs;       // subquery entries
    std::map<std::string, std::vector<Taint>> ctes;  // by name
  };

  const ::migrator::v1::TypeFacts& types_;
  const LabelTextColumns& ltc_;
  const ExprUse use_;
  const bool old_new_;
  ExprVerdict& out_;
  std::vector<Val> case_tests_;
  std::vector<Scope> scopes_;
};

}  // namespace booking::migrator::expr

#endif  // MIGRATOR_STATUS_ENUM_EXPR_CHECKER_H_
