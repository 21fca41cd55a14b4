// grpc-call's command line (grpcurl's flag syntax: -flag value, -flag=value,
// --flag; flags before the address) and its channel.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/tls.h"
#include "tools/grpc_call.h"

namespace booking::grpc_call {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " (grpc-call -help)"));
}

// "name: value" as grpcurl's -H takes it.
absl::Status AddHeader(const std::string& header, Options& options) {
  const std::string::size_type colon = header.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Bad(absl::StrCat("-H \"", header, "\": write it as 'name: value'"));
  }
  options.headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(absl::string_view(header).substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(absl::string_view(header).substr(colon + 1))));
  return absl::OkStatus();
}

// A flag that takes a value: `name` without dashes, `value` its argument.
absl::Status SetValue(const std::string& name, const std::string& value, Options& options) {
  if (name == "cacert") {
    options.cacert = value;
  } else if (name == "cert") {
    options.cert = value;
  } else if (name == "key") {
    options.key = value;
  } else if (name == "H") {
    return AddHeader(value, options);
  } else if (name == "d") {
    options.data = value;
  } else if (name == "max-time") {
    if (!absl::SimpleAtod(value, &options.max_time_seconds) || options.max_time_seconds <= 0) {
      return Bad(absl::StrCat("-max-time \"", value, "\": give seconds above 0, e.g. 10 or 0.5"));
    }
  } else if (name == "max-msgs") {
    if (!absl::SimpleAtoi(value, &options.max_msgs) || options.max_msgs <= 0) {
      return Bad(absl::StrCat("-max-msgs \"", value, "\": give a count above 0"));
    }
  } else {
    return Bad(absl::StrCat("unknown flag -", name));
  }
  return absl::OkStatus();
}

absl::Status SetPositionals(const std::vector<std::string>& words, Options& options) {
  if (words.size() < 2) return Bad("name an address and a method (or list)");
  options.address = words[0];
  if (words[1] == "list") {
    if (words.size() > 3) return Bad("list takes at most one service");
    options.list = true;
    if (words.size() == 3) options.symbol = words[2];
    return absl::OkStatus();
  }
  if (words.size() != 2) return Bad(absl::StrCat("unexpected \"", words[2], "\" after the method"));
  options.symbol = words[1];
  return absl::OkStatus();
}

absl::Status CheckCombination(const Options& options) {
  if (options.plaintext && !(options.cacert.empty() && options.cert.empty())) {
    return Bad("-plaintext takes no -cacert, -cert or -key");
  }
  if (options.cert.empty() != options.key.empty()) return Bad("-cert and -key go together");
  if (options.list && options.data != "{}") return Bad("list takes no -d");
  return absl::OkStatus();
}

}  // namespace

const char* Usage() {
  return R"(grpc-call: calls a gRPC method with a JSON request, as grpcurl does (the same flags).

  grpc-call [flags] ADDR list [SERVICE]     the services (by reflection), or one's methods
  grpc-call [flags] ADDR SERVICE/METHOD     a unary or server-streaming call

  -plaintext            no TLS
  -cacert FILE          the CA that verifies the server (else the system's roots)
  -cert FILE -key FILE  the client certificate and key to present (mTLS)
  -H 'name: value'      request metadata (repeatable), e.g. -H "authorization: Bearer TOKEN"
  -d JSON               the request (default {})
  -v                    also print the method, request metadata, response headers, trailers
  -max-time SECONDS     the call's deadline (grpcurl's)
  -max-msgs N           a stream: stop after N responses and exit 0 (grpcurl has no such flag)

Methods: booking.v1.BookingService, history.v1.HistoryService, grpc.health.v1.Health and
grpc.reflection (compiled in). Exit 0, 1 (the call was not made), 2 (usage) or 64 + the
gRPC code of a failed call (grpcurl's), with grpcurl's "ERROR:" block on stderr.
)";
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options options;
  size_t i = 0;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    std::string name = std::string(absl::StripPrefix(absl::StripPrefix(args[i], "-"), "-"));
    if (name == "plaintext") {
      options.plaintext = true;
    } else if (name == "v") {
      options.verbose = true;
    } else if (const std::string::size_type eq = name.find('='); eq != std::string::npos) {
      if (absl::Status s = SetValue(name.substr(0, eq), name.substr(eq + 1), options); !s.ok()) {
        return s;
      }
    } else if (name == "help" || name == "h") {
      return absl::CancelledError("help");
    } else {
      if (i + 1 == args.size()) return Bad(absl::StrCat("-", name, " needs a value"));
      if (absl::Status s = SetValue(name, args[++i], options); !s.ok()) return s;
    }
  }
  if (absl::Status s =
          SetPositionals(std::vector<std::string>(args.begin() + i, args.end()), options);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCombination(options); !s.ok()) return s;
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const Options& options) {
  TlsSettings tls;
  tls.insecure_plaintext = options.plaintext;
  tls.cert_file = options.cert;
  tls.key_file = options.key;
  tls.ca_file = options.cacert;
  if (!options.cert.empty()) {
    if (absl::Status s = CheckTlsFiles(tls); !s.ok()) return s;
  } else if (!options.cacert.empty() && !std::ifstream(options.cacert).good()) {
    return absl::InvalidArgumentError(absl::StrCat("-cacert ", options.cacert, ": cannot be read"));
  }
  return grpc::CreateChannel(options.address, ChannelCredentialsFor(tls));
}

}  // namespace booking::grpc_call

int main(int argc, char** argv) {
  namespace gc = booking::grpc_call;
  absl::StatusOr<gc::Options> options =
      gc::ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (absl::IsCancelled(options.status())) {  // -help
    std::cout << gc::Usage();
    return 0;
  }
  if (!options.ok()) {
    std::cerr << options.status().message() << "\n\n" << gc::Usage();
    return gc::kExitUsage;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = gc::OpenChannel(*options);
  if (!channel.ok()) {
    std::cerr << "Failed to dial target host \"" << options->address
              << "\": " << channel.status().message() << "\n";
    return gc::kExitFailed;
  }
  return options->list ? gc::List(*options, *channel) : gc::Call(*options, *channel);
}
