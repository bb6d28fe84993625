#include "image/jpeg.h"

// jpeglib.h needs size_t and FILE declared first.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <new>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "absl/strings/str_cat.h"

namespace photosearch::jpeg {
namespace {

// The error manager of one call. Plain data: it lives in the frame that
// calls setjmp, and libjpeg's callbacks reach it through cinfo->err.
struct Errors {
  jpeg_error_mgr pub;  // first, so that a jpeg_error_mgr* is an Errors*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
  int warnings;
};

[[noreturn]] void OnError(j_common_ptr cinfo) {
  Errors* errors = reinterpret_cast<Errors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings (level -1) and traces (>= 0): counted, never printed.
void OnMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  Errors* errors = reinterpret_cast<Errors*>(cinfo->err);
  ++errors->warnings;
  // The file, or the entropy-coded data of a scan, ended before the last
  // block: libjpeg would fill the rest with grey. The photo is refused as
  // truncated, so stop here rather than decode the rest.
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) {
    errors->truncated = true;
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
  }
  if (errors->warnings == 1) (*cinfo->err->format_message)(cinfo, errors->message);
}

void OnOutput(j_common_ptr) {}

void OnProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxJpegScans) {
    Errors* errors = reinterpret_cast<Errors*>(cinfo->err);
    std::snprintf(errors->message, sizeof(errors->message), "more than %d scans", kMaxJpegScans);
    std::longjmp(errors->jump, 1);
  }
}

// What one libjpeg run is asked and answers. Plain data, for the same reason
// as Errors.
struct Job {
  const unsigned char* data;
  size_t size;
  int eighths;                // 0: read the header only
  std::vector<uint8_t>* rgb;  // filled when eighths > 0 (resized here)
  // Out.
  int width, height;  // of the frame, or of the output when decoding
  bool failed, truncated;
  int warnings;
  char message[JMSG_LENGTH_MAX];
};

// Sizes `rgb` without letting an exception cross libjpeg's frames.
bool Allocate(std::vector<uint8_t>* rgb, size_t bytes) noexcept {
  try {
    rgb->resize(bytes);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

// Runs libjpeg for `job`. Between setjmp and the end of this function no
// object with a destructor is created, so a longjmp here skips nothing.
void Run(Job* job) {
  jpeg_decompress_struct cinfo;
  Errors errors;
  jpeg_progress_mgr progress;
  errors.truncated = false;
  errors.warnings = 0;
  errors.message[0] = '\0';
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = OnError;
  errors.pub.emit_message = OnMessage;
  errors.pub.output_message = OnOutput;
  progress.progress_monitor = OnProgress;
  job->failed = true;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    job->truncated = errors.truncated;
    job->warnings = errors.warnings;
    std::snprintf(job->message, sizeof(job->message), "%s", errors.message);
    return;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kMaxJpegMemoryBytes;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(&cinfo, TRUE);
  job->width = static_cast<int>(cinfo.image_width);
  job->height = static_cast<int>(cinfo.image_height);
  if (cinfo.arith_code) {
    // An arithmetic-coded scan that ends early decodes zeros without a warning,
    // so truncation cannot be told; browsers do not decode these either.
    std::snprintf(errors.message, sizeof(errors.message), "arithmetic-coded JPEG not supported");
    std::longjmp(errors.jump, 1);
  }
  if (job->eighths > 0) {
    cinfo.scale_num = static_cast<unsigned>(job->eighths);
    cinfo.scale_denom = 8;
    cinfo.out_color_space = JCS_EXT_RGB;  // grey and YCbCr alike; CMYK is refused
    jpeg_start_decompress(&cinfo);
    const size_t stride = size_t{cinfo.output_width} * 3;
    if (cinfo.output_components != 3 || !Allocate(job->rgb, stride * cinfo.output_height)) {
      std::snprintf(errors.message, sizeof(errors.message), "%s",
                    cinfo.output_components != 3 ? "unsupported colour space"
                                                 : "out of memory for the pixels");
      std::longjmp(errors.jump, 1);
    }
    uint8_t* base = job->rgb->data();
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW rows[16];
      const JDIMENSION first = cinfo.output_scanline;
      const JDIMENSION count = std::min<JDIMENSION>(16, cinfo.output_height - first);
      for (JDIMENSION r = 0; r < count; ++r) rows[r] = base + (first + r) * stride;
      jpeg_read_scanlines(&cinfo, rows, count);
    }
    jpeg_finish_decompress(&cinfo);
    job->width = static_cast<int>(cinfo.output_width);
    job->height = static_cast<int>(cinfo.output_height);
  }
  jpeg_destroy_decompress(&cinfo);
  job->failed = false;
  job->truncated = errors.truncated;
  job->warnings = errors.warnings;
  std::snprintf(job->message, sizeof(job->message), "%s", errors.message);
}

Job NewJob(std::string_view bytes, int eighths, std::vector<uint8_t>* rgb) {
  Job job{};
  job.data = reinterpret_cast<const unsigned char*>(bytes.data());
  job.size = bytes.size();
  job.eighths = eighths;
  job.rgb = rgb;
  return job;
}

}  // namespace

absl::StatusOr<Header> ReadHeader(std::string_view bytes) {
  Job job = NewJob(bytes, 0, nullptr);
  Run(&job);
  if (job.failed) {
    return absl::InvalidArgumentError(absl::StrCat("corrupt JPEG (header): ", job.message));
  }
  if (job.width <= 0 || job.height <= 0) {
    return absl::InvalidArgumentError("corrupt JPEG (header): zero width or height");
  }
  return Header{job.width, job.height};
}

absl::StatusOr<Pixels> DecodeRgb(std::string_view bytes, int eighths) {
  if (eighths < 1 || eighths > 8) {
    return absl::InvalidArgumentError(absl::StrCat("JPEG scale ", eighths, "/8 not in 1/8..8/8"));
  }
  Pixels pixels;
  Job job = NewJob(bytes, eighths, &pixels.rgb);
  Run(&job);
  if (job.failed || job.truncated) {
    return absl::InvalidArgumentError(
        absl::StrCat(job.truncated ? "truncated JPEG: " : "corrupt JPEG: ", job.message));
  }
  // Other warnings (bad Huffman codes, extraneous bytes) leave every row
  // decoded: the photo is accepted, as browsers show it.
  pixels.width = job.width;
  pixels.height = job.height;
  return pixels;
}

}  // namespace photosearch::jpeg
