// Metadata conversion (common/input_check.h) on a Struct parsed from the
// input's bytes: MetadataToJson accepts only what the stores can keep, as
// JSON within the limits that reads back unchanged, and refuses the rest with
// a field violation. IsValidUtf8 is checked on the raw bytes too.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  booking::fuzz::QuietProtobuf();
  booking::fuzz::CheckUtf8Agrees(absl::string_view(reinterpret_cast<const char*>(data), size));

  google::protobuf::Struct metadata;
  if (!metadata.ParseFromArray(data, static_cast<int>(size))) return 0;
  booking::fuzz::CheckMetadataResult(metadata, booking::MetadataToJson("metadata", metadata));
  return 0;
}
