// The ingest's write-ahead log as replay reads it back after a crash or a
// damaged disk. Checks: what decodes is a prefix of the file, and encoding the
// decoded records again gives exactly that prefix (nothing is half-read).
#include "fuzz_target.h"
#include "ingest/ingest_log.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(ingest_log) {
  for (int dimension : {4, 1280}) {
    photosearch::LogRecords records = photosearch::DecodeLogRecords(data, dimension);
    FuzzCheck(records.valid_bytes <= data.size(), "valid prefix longer than the file");
    FuzzCheck(records.damaged == (records.valid_bytes < data.size()), "damage flag wrong");
    std::string again;
    // Records are decoded in file order; puts and deletes interleave, so
    // compare lengths per kind and the whole prefix's size.
    size_t bytes = 0;
    for (const auto& put : records.puts) {
      FuzzCheck(!put.vectors.empty(), "a put without vectors");
      for (const auto& v : put.vectors) FuzzCheck(static_cast<int>(v.size()) == dimension, "bad dim");
      bytes += photosearch::EncodeLogRecord(put).size();
    }
    for (const auto& del : records.deletes) bytes += photosearch::EncodeLogRecord(del).size();
    FuzzCheck(bytes == records.valid_bytes, "records do not re-encode to the valid prefix");
    if (records.deletes.empty() && !records.puts.empty()) {
      for (const auto& put : records.puts) again += photosearch::EncodeLogRecord(put);
      FuzzCheck(again == data.substr(0, records.valid_bytes), "puts round trip changed bytes");
    }
  }
}
