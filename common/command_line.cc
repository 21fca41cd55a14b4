#include "common/command_line.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/closest_name.h"

namespace booking::command_line {
namespace {

std::string Dashed(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// The flags an operator may give: every registered one but abseil's own
// (--flagfile, --fromenv, --tryfromenv, --undefok and its help flags): this
// program is configured by its flags and environment variables, and
// --undefok would let a mistyped name pass.
std::map<std::string, absl::CommandLineFlag*> OperatorFlags() {
  std::map<std::string, absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->IsRetired() || absl::StrContains(flag->Filename(), "absl/")) continue;
    flags.emplace(std::string(name), flag);
  }
  return flags;
}

bool IsHelp(absl::string_view name) { return name == "help" || name == "helpfull" || name == "h"; }

template <typename... T>
bool IsOneOf(const absl::CommandLineFlag& flag) {
  return (flag.IsOfType<T>() || ...);
}

// What a value of the flag's type looks like ("" when no simple rule says).
std::string ExpectedForm(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (IsOneOf<int16_t, int32_t, int64_t>(flag)) return "a whole number, e.g. 8";
  if (IsOneOf<uint16_t, uint32_t, uint64_t>(flag)) return "a whole number, 0 or more";
  if (IsOneOf<float, double>(flag)) return "a number, e.g. 0.5";
  if (flag.IsOfType<absl::Duration>()) {
    return "a duration with its unit, e.g. 250ms, 30s, 5m or 1h30m";
  }
  return "";
}

std::string Placeholder(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "";
  if (IsOneOf<int16_t, int32_t, int64_t, uint16_t, uint32_t, uint64_t>(flag)) return "=N";
  if (IsOneOf<float, double>(flag)) return "=X";
  if (flag.IsOfType<absl::Duration>()) return "=DURATION";
  return "=VALUE";
}

absl::Status Unknown(absl::string_view name,
                     const std::map<std::string, absl::CommandLineFlag*>& flags) {
  const std::string typed = Dashed(name);
  std::vector<std::string> candidates = {"help"};
  for (const auto& [known, flag] : flags) candidates.push_back(Dashed(known));
  const std::string best = ClosestName(typed, candidates);
  return absl::InvalidArgumentError(absl::StrCat("unknown flag --", typed,
                                                 best.empty() ? "" : "; did you mean --", best,
                                                 best.empty() ? "" : "?"));
}

absl::Status SetFlag(absl::CommandLineFlag& flag, absl::string_view value) {
  std::string error;
  if (flag.ParseFrom(value, &error)) return absl::OkStatus();
  std::string form = ExpectedForm(flag);
  if (form.empty()) {
    // abseil's reason, after its own "Illegal value '...' specified for flag '...'; ".
    std::vector<std::string> parts = absl::StrSplit(error, absl::MaxSplits("; ", 1));
    form = parts.size() == 2 ? parts[1] : "another value";
  }
  return absl::InvalidArgumentError(
      absl::StrCat("bad value \"", value, "\" for --", Dashed(flag.Name()), ": expected ", form));
}

struct Named {
  absl::CommandLineFlag* flag = nullptr;
  bool negated = false;  // --noNAME of a bool flag
};

Named Find(const std::string& name, const std::map<std::string, absl::CommandLineFlag*>& flags) {
  if (auto it = flags.find(name); it != flags.end()) return {it->second, false};
  if (absl::StartsWith(name, "no")) {
    absl::string_view rest = absl::string_view(name).substr(2);
    if (absl::StartsWith(rest, "_")) rest.remove_prefix(1);  // --no-dry-run
    auto it = flags.find(std::string(rest));
    if (it != flags.end() && it->second->IsOfType<bool>()) return {it->second, true};
  }
  return {};
}

// The group a flag is shown in: the program's own flags first (0), then the
// shared ones by topic.
std::pair<int, std::string> Group(const absl::CommandLineFlag& flag, absl::string_view program) {
  const std::string file = flag.Filename();
  if (!absl::StrContains(file, "common/")) return {0, absl::StrCat(program, " flags")};
  if (absl::StrContains(file, "service_startup")) return {1, "Service flags (shared)"};
  if (absl::StrContains(file, "tls")) return {2, "Transport security flags (shared)"};
  if (absl::StrContains(file, "authz")) return {3, "Authorization flags (shared)"};
  return {4, "Other shared flags"};
}

// `text` wrapped at 80 columns, each line indented by `indent`.
std::string Wrapped(absl::string_view text, absl::string_view indent) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > 80) {
      absl::StrAppend(&out, indent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, indent, line, "\n");
  return out;
}

std::string FlagHelp(const absl::CommandLineFlag& flag) {
  std::string help = flag.Help();
  const std::string fallback = flag.DefaultValue();
  // A default worth showing, unless the help already says it.
  if (!absl::StrContains(help, "default") && !(fallback.empty() && !flag.IsOfType<bool>())) {
    absl::StrAppend(&help, " [default ", fallback, "]");
  }
  return absl::StrCat("  --", Dashed(flag.Name()), Placeholder(flag), "\n",
                      Wrapped(help, "      "));
}

}  // namespace

std::string HelpText(absl::string_view program, absl::string_view usage) {
  std::map<std::pair<int, std::string>, std::string> groups;
  for (const auto& [name, flag] : OperatorFlags()) {
    absl::StrAppend(&groups[Group(*flag, program)], FlagHelp(*flag));
  }
  std::string out = absl::StrCat(program, ": ", usage, "\n");
  for (const auto& [group, text] : groups) absl::StrAppend(&out, "\n", group.second, ":\n", text);
  absl::StrAppend(&out, "\nGeneral:\n  --help, -h\n      this help\n",
                  "\nFlags are spelled with dashes: --flag-name=VALUE or --flag-name VALUE\n"
                  "(underscores are accepted). A mistake on the command line exits 2: fix it,\n"
                  "do not retry (README \"Exit codes\").\n");
  return out;
}

absl::StatusOr<Parsed> Apply(const std::vector<std::string>& args) {
  const std::map<std::string, absl::CommandLineFlag*> flags = OperatorFlags();
  Parsed parsed;
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    const size_t eq = arg.find('=');
    const std::string name = absl::StrReplaceAll(arg.substr(0, eq), {{"-", "_"}});
    if (IsHelp(name)) {
      parsed.help = true;
      continue;
    }
    const Named named = Find(name, flags);
    if (named.flag == nullptr) return Unknown(name, flags);
    const std::string dashed = absl::StrCat("--", Dashed(named.flag->Name()));
    std::string value;
    if (eq != absl::string_view::npos) {
      if (named.negated) return absl::InvalidArgumentError(dashed + " takes no value after --no");
      value = std::string(arg.substr(eq + 1));
    } else if (named.flag->IsOfType<bool>()) {
      value = named.negated ? "false" : "true";
    } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(dashed, " needs a value: ", dashed, Placeholder(*named.flag)));
    }
    if (absl::Status s = SetFlag(*named.flag, value); !s.ok()) return s;
  }
  return parsed;
}

}  // namespace booking::command_line
