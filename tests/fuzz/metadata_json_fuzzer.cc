// Metadata conversion (common/input_check.h) on metadata as a caller's JSON:
// the input is read as JSON into a Struct (protobuf's parser lets through
// what binary parsing would not, such as strings that are not UTF-8 or hold
// NUL), then MetadataToJson must accept it as JSON that reads back unchanged
// or refuse it with a field violation. IsValidUtf8 is checked on the text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  booking::fuzz::QuietProtobuf();
  const std::string text(reinterpret_cast<const char*>(data), size);
  booking::fuzz::CheckUtf8Agrees(text);

  google::protobuf::Struct metadata;
  if (!google::protobuf::util::JsonStringToMessage(text, &metadata).ok()) return 0;
  booking::fuzz::CheckMetadataResult(metadata, booking::MetadataToJson("metadata", metadata));
  return 0;
}
