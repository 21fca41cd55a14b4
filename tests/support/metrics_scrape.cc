#include "tests/support/metrics_scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace booking::testing {
namespace {

// A label value's escapes (\\, \", \n) undone; `pos` is past the opening
// quote and ends past the closing one.
std::string QuotedValue(const std::string& line, size_t& pos) {
  std::string value;
  while (pos < line.size() && line[pos] != '"') {
    if (line[pos] == '\\' && pos + 1 < line.size()) {
      ++pos;
      value += line[pos] == 'n' ? '\n' : line[pos];
    } else {
      value += line[pos];
    }
    ++pos;
  }
  ++pos;
  return value;
}

bool ParseLine(const std::string& line, MetricSample& sample) {
  size_t pos = line.find_first_of("{ ");
  if (pos == std::string::npos || pos == 0) return false;
  sample.name = line.substr(0, pos);
  if (line[pos] == '{') {
    ++pos;
    while (pos < line.size() && line[pos] != '}') {
      const size_t eq = line.find('=', pos);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string key(absl::StripAsciiWhitespace(line.substr(pos, eq - pos)));
      pos = eq + 2;
      sample.labels[key] = QuotedValue(line, pos);
      if (pos < line.size() && line[pos] == ',') ++pos;
    }
    ++pos;
  }
  std::vector<std::string> rest =
      absl::StrSplit(line.substr(std::min(pos, line.size())), ' ', absl::SkipEmpty());
  return !rest.empty() && absl::SimpleAtod(rest[0], &sample.value);
}

}  // namespace

absl::StatusOr<std::string> FetchMetricsText(const std::string& target) {
  std::vector<std::string> host_port = absl::StrSplit(target, ':');
  int port = 0;
  if (host_port.size() != 2 || !absl::SimpleAtoi(host_port[1], &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not HOST:PORT: ", target));
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host_port[0].c_str(), &addr.sin_addr);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to ", target));
  }
  const std::string request =
      absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", target, "\r\nConnection: close\r\n\r\n");
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[8192];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) response.append(buf, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos ||
      response.find(" 200 ") > body) {
    return absl::UnavailableError(absl::StrCat("no metrics from ", target, ": ", response));
  }
  return response.substr(body + 4);
}

std::vector<MetricSample> ParseMetricsText(const std::string& text) {
  std::vector<MetricSample> samples;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    MetricSample sample;
    if (ParseLine(line, sample)) samples.push_back(std::move(sample));
  }
  return samples;
}

absl::StatusOr<std::vector<MetricSample>> ScrapeSamples(const std::string& target) {
  absl::StatusOr<std::string> text = FetchMetricsText(target);
  if (!text.ok()) return text.status();
  return ParseMetricsText(*text);
}

double SumOf(const std::vector<MetricSample>& samples, const std::string& name,
             const std::map<std::string, std::string>& match) {
  double sum = 0;
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& [key, value] : match) {
      auto it = s.labels.find(key);
      all = all && it != s.labels.end() && it->second == value;
    }
    if (all) sum += s.value;
  }
  return sum;
}

std::set<std::string> NamesOf(const std::vector<MetricSample>& samples) {
  std::set<std::string> names;
  for (const MetricSample& s : samples) names.insert(s.name);
  return names;
}

}  // namespace booking::testing
