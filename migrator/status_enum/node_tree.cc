#include "migrator/status_enum/node_tree.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace booking::migrator {
namespace {

// pg_strtok's tokens: ( ) { } alone, else a run up to whitespace or one of
// them, a backslash taking the next character as it is.
class Reader {
 public:
  explicit Reader(absl::string_view text) : text_(text) {}

  // The next token's raw text (escapes kept); empty at the end.
  absl::string_view Peek() {
    size_t p = pos_;
    return Scan(p);
  }
  absl::string_view Next() { return Scan(pos_); }
  bool AtEnd() {
    size_t p = pos_;
    return Scan(p).empty();
  }

 private:
  absl::string_view Scan(size_t& p) const {
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\n' || text_[p] == '\t')) ++p;
    if (p >= text_.size()) return {};
    const size_t start = p;
    const char c = text_[p];
    if (c == '(' || c == ')' || c == '{' || c == '}') return text_.substr(p++, 1);
    while (p < text_.size()) {
      const char d = text_[p];
      if (d == ' ' || d == '\n' || d == '\t' || d == '(' || d == ')' || d == '{' || d == '}') break;
      p += (d == '\\' && p + 1 < text_.size()) ? 2 : 1;
    }
    return text_.substr(start, p - start);
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

std::string Unescape(absl::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
    out.push_back(raw[i]);
  }
  return out;
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a node tree: ", why));
}

absl::StatusOr<TreeNode> ReadValue(Reader& in, int depth);

absl::StatusOr<TreeNode> ReadNode(Reader& in, int depth) {
  TreeNode node;
  node.kind = TreeNode::Kind::kNode;
  node.text = std::string(in.Next());
  while (true) {
    const absl::string_view t = in.Peek();
    if (t.empty()) return Malformed("unterminated node");
    if (t == "}") {
      in.Next();
      return node;
    }
    if (t.front() != ':') return Malformed(absl::StrCat("expected a field name, got ", t));
    std::string name(t.substr(1));
    in.Next();
    absl::StatusOr<TreeNode> value = ReadValue(in, depth + 1);
    if (!value.ok()) return value.status();
    node.fields.emplace_back(std::move(name), *std::move(value));
  }
}

absl::StatusOr<TreeNode> ReadList(Reader& in, int depth) {
  TreeNode list;
  list.kind = TreeNode::Kind::kList;
  while (true) {
    const absl::string_view t = in.Peek();
    if (t.empty()) return Malformed("unterminated list");
    if (t == ")") {
      in.Next();
      return list;
    }
    absl::StatusOr<TreeNode> item = ReadValue(in, depth + 1);
    if (!item.ok()) return item.status();
    list.items.push_back(*std::move(item));
  }
}

// After a datum's length: "[ b0 b1 ... ]" (bytes printed as signed chars).
absl::StatusOr<TreeNode> ReadDatum(Reader& in) {
  TreeNode datum;
  datum.kind = TreeNode::Kind::kDatum;
  in.Next();  // "["
  while (true) {
    const absl::string_view t = in.Next();
    if (t.empty()) return Malformed("unterminated datum");
    if (t == "]") return datum;
    int byte = 0;
    if (!absl::SimpleAtoi(t, &byte)) return Malformed(absl::StrCat("datum byte ", t));
    datum.bytes.push_back(static_cast<uint8_t>(byte & 0xFF));
  }
}

absl::StatusOr<TreeNode> ReadValue(Reader& in, int depth) {
  if (depth > 10000) return Malformed("nested too deeply");
  const absl::string_view t = in.Next();
  if (t.empty()) return Malformed("unexpected end");
  if (t == "{") return ReadNode(in, depth);
  if (t == "(") return ReadList(in, depth);
  if (t == ")" || t == "}") return Malformed(absl::StrCat("unexpected ", t));
  TreeNode atom;
  if (t == "<>") return atom;  // kNull
  if (in.Peek() == "[") return ReadDatum(in);
  atom.kind = TreeNode::Kind::kAtom;
  atom.text = Unescape(t);
  return atom;
}

uint32_t Le32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 |
         static_cast<uint32_t>(b[at + 2]) << 16 | static_cast<uint32_t>(b[at + 3]) << 24;
}

// The array's header: where its elements start, how many, which are NULL.
struct ArrayLayout {
  size_t data = 0;
  size_t count = 0;
  size_t bitmap = 0;  // 0: no NULLs
};

std::optional<ArrayLayout> Layout(const std::vector<uint8_t>& b) {
  if (b.size() < 16 || (b[0] & 0x03) != 0) return std::nullopt;  // a plain 4-byte header
  const uint32_t ndim = Le32(b, 4);
  const uint32_t dataoffset = Le32(b, 8);
  if (ndim > 6 || b.size() < 16 + 8 * ndim) return std::nullopt;
  ArrayLayout layout;
  layout.count = ndim == 0 ? 0 : 1;
  for (uint32_t d = 0; d < ndim; ++d) layout.count *= Le32(b, 16 + 4 * d);
  if (dataoffset != 0) layout.bitmap = 16 + 8 * ndim;
  layout.data = dataoffset != 0 ? dataoffset : ((16 + 8 * ndim + 7) & ~size_t{7});
  if (layout.data > b.size()) return std::nullopt;
  return layout;
}

bool IsNullElement(const std::vector<uint8_t>& b, const ArrayLayout& l, size_t i) {
  return l.bitmap != 0 && (b[l.bitmap + i / 8] & (1u << (i % 8))) == 0;
}

}  // namespace

const TreeNode* TreeNode::Field(absl::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::optional<int64_t> TreeNode::Int(absl::string_view name) const {
  const TreeNode* f = Field(name);
  int64_t v = 0;
  if (f == nullptr || f->kind != Kind::kAtom || !absl::SimpleAtoi(f->text, &v)) return std::nullopt;
  return v;
}

std::string TreeNode::Atom(absl::string_view name) const {
  const TreeNode* f = Field(name);
  return f != nullptr && f->kind == Kind::kAtom ? f->text : "";
}

absl::StatusOr<TreeNode> ParseNodeTree(absl::string_view text) {
  Reader in(text);
  absl::StatusOr<TreeNode> tree = ReadValue(in, 0);
  if (tree.ok() && !in.AtEnd()) return Malformed("text after the tree");
  return tree;
}

std::optional<std::string> VarlenaText(const std::vector<uint8_t>& b) {
  if (b.empty()) return std::nullopt;
  if ((b[0] & 0x01) != 0) {  // 1-byte header
    const size_t size = (b[0] >> 1) & 0x7F;
    if (b[0] == 0x01 || size < 1 || size > b.size()) return std::nullopt;  // 0x01: external
    return std::string(b.begin() + 1, b.begin() + size);
  }
  if (b.size() < 4 || (b[0] & 0x03) != 0) return std::nullopt;  // compressed
  const size_t size = Le32(b, 0) >> 2;
  if (size < 4 || size > b.size()) return std::nullopt;
  return std::string(b.begin() + 4, b.begin() + size);
}

std::optional<std::vector<uint32_t>> ArrayOids(const std::vector<uint8_t>& b) {
  const std::optional<ArrayLayout> l = Layout(b);
  if (!l) return std::nullopt;
  std::vector<uint32_t> out;
  size_t at = l->data;
  for (size_t i = 0; i < l->count; ++i) {
    if (IsNullElement(b, *l, i)) continue;
    if (at + 4 > b.size()) return std::nullopt;
    out.push_back(Le32(b, at));
    at += 4;
  }
  return out;
}

std::optional<std::vector<std::string>> ArrayTexts(const std::vector<uint8_t>& b) {
  const std::optional<ArrayLayout> l = Layout(b);
  if (!l) return std::nullopt;
  std::vector<std::string> out;
  size_t at = l->data;
  for (size_t i = 0; i < l->count; ++i) {
    if (IsNullElement(b, *l, i)) continue;
    if (at < b.size() && b[at] == 0) at = (at + 3) & ~size_t{3};  // padding before a 4-byte header
    if (at >= b.size()) return std::nullopt;
    const size_t size = (b[at] & 0x01) != 0  ? (b[at] >> 1) & 0x7F
                        : at + 4 <= b.size() ? Le32(b, at) >> 2
                                             : 0;
    if (size == 0 || at + size > b.size()) return std::nullopt;
    std::optional<std::string> text =
        VarlenaText(std::vector<uint8_t>(b.begin() + at, b.begin() + at + size));
    if (!text) return std::nullopt;
    out.push_back(*std::move(text));
    at += size;
  }
  return out;
}

}  // namespace booking::migrator
