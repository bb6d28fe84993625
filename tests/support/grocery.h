// The grocery test set in ../shared/assets/photos/grocery_store (MIT): 2,485
// natural photos in 81 fine classes, and one iconic catalogue image per class.
#pragma once

#include <string>
#include <vector>

namespace photosearch::testing {

struct GroceryPhoto {
  std::string item_id;  // path relative to the folder it is indexed from
  int fine_class = -1;
};

std::string GroceryDir();
// test.txt: items relative to GroceryDir() + "/test".
std::vector<GroceryPhoto> ReadGroceryTestSet();
// classes.csv: items relative to GroceryDir() + "/iconic-images-and-descriptions".
std::vector<GroceryPhoto> ReadGroceryIconic();

}  // namespace photosearch::testing
