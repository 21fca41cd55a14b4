// PostgreSQL's stored expressions as it keeps them: a pg_node_tree (the
// text nodeToString writes into pg_rewrite.ev_action, pg_index.indpred,
// pg_constraint.conbin, pg_attrdef.adbin, pg_trigger.tgqual,
// pg_policy.polqual, pg_proc.prosqlbody, ...) read into a generic tree.
// Unlike the printed definitions, it names every value's type, every
// operator and function by oid, and nothing in it is ambiguous: the
// expression checks (expr_check.h) judge this form.
//
// Format (PostgreSQL 15, outfuncs.c): {TAG :field value ...} for a node,
// ( ... ) for a list, (i 1 2) / (o 1 2) / (b 1 2) for integer, oid and
// bitmap lists, <> for nothing, "len [ b0 b1 ... ]" for a datum, and atoms
// with backslash escapes.
#ifndef MIGRATOR_STATUS_ENUM_NODE_TREE_H_
#define MIGRATOR_STATUS_ENUM_NODE_TREE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::migrator {

struct TreeNode {
  enum class Kind { kNull, kAtom, kNode, kList, kDatum };
  Kind kind = Kind::kNull;
  // An atom's text (unescaped), or a node's tag (OPEXPR, VAR, ...).
  std::string text;
  std::vector<std::pair<std::string, TreeNode>> fields;  // a node's, in order
  std::vector<TreeNode> items;                           // a list's
  std::vector<uint8_t> bytes;                            // a datum's

  bool Is(absl::string_view tag) const { return kind == Kind::kNode && text == tag; }
  bool IsNull() const { return kind == Kind::kNull; }
  // The field `name` of a node; nullptr when it has none.
  const TreeNode* Field(absl::string_view name) const;
  // A field's atom as a number; nullopt when missing or not a number.
  std::optional<int64_t> Int(absl::string_view name) const;
  // A field's atom ("" when missing or not an atom).
  std::string Atom(absl::string_view name) const;
};

// INVALID_ARGUMENT when `text` is not a node tree as PostgreSQL writes it.
absl::StatusOr<TreeNode> ParseNodeTree(absl::string_view text);

// A varlena datum's bytes (4-byte or 1-byte header) as the text it holds;
// nullopt when compressed or malformed.
std::optional<std::string> VarlenaText(const std::vector<uint8_t>& bytes);

// The elements of a one-dimensional (or flattened) array datum whose
// elements are 4-byte values (oids) or varlena texts; nullopt when the bytes
// are not such an array. NULL elements are skipped.
std::optional<std::vector<uint32_t>> ArrayOids(const std::vector<uint8_t>& bytes);
std::optional<std::vector<std::string>> ArrayTexts(const std::vector<uint8_t>& bytes);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_NODE_TREE_H_
