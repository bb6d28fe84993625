#include "support/grocery.h"

#include <fstream>
#include <sstream>

#include "support/test_env.h"

namespace photosearch::testing {

std::string GroceryDir() { return AssetsDir() + "/photos/grocery_store"; }

// "test/Fruit/Apple/.../x.jpg, <fine>, <coarse>"
std::vector<GroceryPhoto> ReadGroceryTestSet() {
  std::ifstream in(GroceryDir() + "/test.txt");
  std::vector<GroceryPhoto> photos;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string path, fine;
    if (!std::getline(fields, path, ',') || !std::getline(fields, fine, ',')) continue;
    const std::string prefix = "test/";
    if (path.rfind(prefix, 0) == 0) path = path.substr(prefix.size());
    photos.push_back({path, std::stoi(fine)});
  }
  return photos;
}

// "Name,<fine>,Coarse,<coarse>,/iconic-images-and-descriptions/.../x_Iconic.jpg,..."
std::vector<GroceryPhoto> ReadGroceryIconic() {
  std::ifstream in(GroceryDir() + "/classes.csv");
  std::vector<GroceryPhoto> photos;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string name, fine, coarse, coarse_id, iconic;
    if (!std::getline(fields, name, ',') || !std::getline(fields, fine, ',') ||
        !std::getline(fields, coarse, ',') || !std::getline(fields, coarse_id, ',') ||
        !std::getline(fields, iconic, ',')) {
      continue;
    }
    const std::string prefix = "/iconic-images-and-descriptions/";
    if (iconic.rfind(prefix, 0) == 0) iconic = iconic.substr(prefix.size());
    photos.push_back({iconic, std::stoi(fine)});
  }
  return photos;
}

}  // namespace photosearch::testing
