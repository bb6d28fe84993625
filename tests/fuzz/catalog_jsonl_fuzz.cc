#include "catalog_fuzz.h"

PHOTOSEARCH_FUZZ_TARGET(catalog_jsonl) { photosearch::fuzz::FuzzCatalog(data, "jsonl"); }
