// Detected boxes and their geometry: the plain data a detector returns and the
// crop policy, the region embedder and the search service pass on, with IoU,
// NMS and the mapping back to the stored photo's pixels. No network here.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <vector>

#include "image/image.h"

namespace photosearch {

// One detected object. Coordinates are pixels of the image given to Detect
// (its width x height, not Image::source_width), clamped to
// 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height.
struct Detection {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int class_id = -1;
  std::string class_name;
  float score = 0;       // objectness * class probability, in [0, 1]
  float objectness = 0;  // "an object is here", whatever its class, in [0, 1]
  // score >= thresholds.score: the class is sure enough to show. False for a
  // proposal that is an object of no sure class.
  bool labelled = false;

  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
};

// What one forward pass finds, as two lists of boxes in the same pixels.
struct Detections {
  // Labelled objects: score >= thresholds.score, NMS within each class, best
  // score first, at most thresholds.max_detections. What `photosearch detect`
  // prints, the web page draws and detect=all embeds.
  std::vector<Detection> objects;
  // Class-agnostic candidates for the photo's primary object (detect=primary):
  // objectness >= thresholds.objectness, NMS across classes, most object-like
  // first, at most thresholds.max_detections; class_name is the likeliest class
  // however unlikely. The network sees a thing outside its classes (a packet,
  // a shelf of jars, a product photo within a photo) as "an object" long before
  // it can name it.
  std::vector<Detection> proposals;
};

// Moves boxes detected on `image` (which the decoder may have scaled down) to
// the pixels of the photo as stored (Image::source_width x source_height).
void ToStoredPixels(const Image& image, std::vector<Detection>* boxes);

// Intersection over union of two boxes (0 when either is empty).
float BoxIoU(const Detection& a, const Detection& b);

// Greedy NMS: keeps the box ranking highest by `rank` (Detection::score or
// ::objectness), drops any box overlapping a kept one by IoU > iou_threshold
// (within its class only when `within_class`), and so on. Returns at most
// `max_keep` boxes, highest first.
std::vector<Detection> Nms(std::vector<Detection> boxes, float iou_threshold, int max_keep,
                           bool within_class, float Detection::*rank);
// Nms within each class, by score.
std::vector<Detection> ClassWiseNms(std::vector<Detection> boxes, float iou_threshold,
                                    int max_keep);

}  // namespace photosearch
