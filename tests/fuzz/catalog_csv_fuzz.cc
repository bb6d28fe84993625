#include "catalog_fuzz.h"

PHOTOSEARCH_FUZZ_TARGET(catalog_csv) { photosearch::fuzz::FuzzCatalog(data, "csv"); }
