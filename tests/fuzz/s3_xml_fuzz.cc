// S3's XML answers: ListObjectsV2 pages and error bodies, from a server we
// talk to. Checks: error fields are bounded and printable (they reach logs).
#include "artifact/s3_xml.h"
#include "fuzz_target.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(s3_xml) {
  photosearch::S3ListPage page = photosearch::ParseListObjectsPage(data);
  size_t bytes = 0;
  for (const std::string& key : page.keys) bytes += key.size();
  FuzzCheck(bytes <= data.size(), "keys longer than the body");
  photosearch::S3ErrorBody error = photosearch::ParseS3Error(data);
  for (const std::string* field : {&error.code, &error.message}) {
    FuzzCheck(field->size() <= 203, "error field unbounded");
    for (unsigned char c : *field) FuzzCheck(c >= 0x20 && c != 0x7f, "control byte in an error");
  }
}
