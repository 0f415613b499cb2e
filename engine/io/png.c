/* PNG reading and writing through libpng.
 *
 * Reading returns float32 C x H x W in [0,1]: 8-bit samples / 255, 16-bit
 * samples / 65535. Gray (1, 2, 4, 8, 16 bit) gives C=1, gray+alpha C=2, RGB
 * C=3, RGBA C=4; palette images are expanded to RGB, and a tRNS chunk becomes
 * an alpha channel (palette/RGB -> 4, gray -> 2). Interlaced images are
 * supported. No gamma correction is applied (like PIL / torchvision).
 *
 * Writing takes C x H x W (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) in
 * float32/float64 (clamped to [0,1], NaN -> 0, scaled by 255 and rounded half
 * up) or uint8 (written as is), 8 bits per sample, atomically.
 *
 * libpng reports errors with longjmp: every libpng call happens inside a
 * helper whose state lives in a context struct owned by its caller, so no
 * local of the function that called setjmp is read after the jump. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "internal/tensor_internal.h"
#include "io/io_util.h"
#include "sgen/io.h"

#define PNG_MAX_PIXELS (INT64_C(1) << 28)
#define DEFLATE_MAX_RATIO 1032 /* deflate never inflates more than 1032:1 */
#define PNG_ERRMSG_CAP 512

/* The libpng error pointer: the last warning and the error message. libpng
 * often warns with the detail ("Image width is zero in IHDR") and then fails
 * with a summary ("Invalid IHDR data"), so the error keeps the warning. */
typedef struct png_msgs {
  char err[PNG_ERRMSG_CAP];
  char warn[256];
} png_msgs;

typedef struct png_ctx {
  const char *path;
  FILE *fp;
  int64_t file_size;
  png_structp png;
  png_infop info;
  unsigned char *pixels; /* H rows of rowbytes */
  png_bytep *rows;
  uint32_t width, height;
  int channels, bit_depth;
  png_msgs msgs;
} png_ctx;

static void png_error_cb(png_structp png, png_const_charp msg) {
  png_msgs *m = png_get_error_ptr(png);
  if (m->warn[0])
    snprintf(m->err, sizeof m->err, "%s (last warning: %s)", msg ? msg : "libpng error", m->warn);
  else
    snprintf(m->err, sizeof m->err, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunks...) are not fatal; remember the last. */
static void png_warning_cb(png_structp png, png_const_charp msg) {
  png_msgs *m = png_get_error_ptr(png);
  snprintf(m->warn, sizeof m->warn, "%s", msg ? msg : "");
}

/* Decodes the whole image into c->pixels. 0 on success, -1 with c->msgs.err. */
static int png_decode(png_ctx *c) {
  if (setjmp(png_jmpbuf(c->png))) return -1;
  png_init_io(c->png, c->fp);
  png_set_sig_bytes(c->png, 8);
  /* libpng reads an ancillary chunk whole, into a buffer of the size its
   * header claims (an over-large length is only a warning): a 65-byte file
   * whose sPLT claimed 1.9 GB had it allocate and touch that much before
   * finding the data missing (libFuzzer's out-of-memory report). The reader
   * uses none of them but tRNS, so libpng skips the others unread, through
   * a small buffer. */
  static const png_byte unused_chunks[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
                                          "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0"
                                          "zTXt";
  png_set_keep_unknown_chunks(c->png, PNG_HANDLE_CHUNK_NEVER, unused_chunks,
                              (int)(sizeof unused_chunks / 5));
  png_read_info(c->png, c->info);
  png_uint_32 w = 0, h = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(c->png, c->info, &w, &h, &bit_depth, &color_type, NULL, NULL, NULL);
  if ((int64_t)w * (int64_t)h > PNG_MAX_PIXELS) {
    snprintf(c->msgs.err, sizeof c->msgs.err, "image is %ux%u, more than 2^28 pixels", (unsigned)w,
             (unsigned)h);
    return -1;
  }
  /* The pixel data the header announces must fit in the file at deflate's
   * best ratio, or a 70-byte file with a big IHDR would have us allocate
   * gigabytes before libpng finds the data missing (libFuzzer's malloc
   * limit reports it). The bound counts no filter bytes, so every valid
   * file passes. */
  int64_t data_bits = (int64_t)w * (int64_t)h * bit_depth * png_get_channels(c->png, c->info);
  if ((double)(data_bits / 8) > (double)c->file_size * DEFLATE_MAX_RATIO + 1024) {
    snprintf(c->msgs.err, sizeof c->msgs.err,
             "image is %ux%u (%d-bit, %d channels), %lld bytes of pixel data, more than a "
             "%lld-byte file can hold (corrupt header?)",
             (unsigned)w, (unsigned)h, bit_depth, (int)png_get_channels(c->png, c->info),
             (long long)(data_bits / 8), (long long)c->file_size);
    return -1;
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(c->png);
  if (png_get_valid(c->png, c->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(c->png);
  (void)png_set_interlace_handling(c->png);
  png_read_update_info(c->png, c->info);
  int ch = png_get_channels(c->png, c->info);
  int bd = png_get_bit_depth(c->png, c->info);
  size_t rowbytes = png_get_rowbytes(c->png, c->info);
  if (ch < 1 || ch > 4 || (bd != 8 && bd != 16) ||
      rowbytes != (size_t)w * (size_t)ch * (size_t)(bd / 8)) {
    snprintf(c->msgs.err, sizeof c->msgs.err,
             "unexpected layout after expansion (%d channels, %d bits, %zu bytes per row)", ch, bd,
             rowbytes);
    return -1;
  }
  c->width = w;
  c->height = h;
  c->channels = ch;
  c->bit_depth = bd;
  c->pixels = malloc(rowbytes * h); /* libpng rejects zero sizes */
  c->rows = malloc(sizeof(png_bytep) * (h ? h : 1));
  if (!c->pixels || !c->rows) {
    snprintf(c->msgs.err, sizeof c->msgs.err, "out of memory for a %ux%u image", (unsigned)w,
             (unsigned)h);
    return -1;
  }
  for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->pixels + (size_t)y * rowbytes;
  png_read_image(c->png, c->rows);
  png_read_end(c->png, NULL);
  return 0;
}

sg_tensor *sg_png_read(const char *path) {
  png_ctx c;
  memset(&c, 0, sizeof c);
  c.path = path;
  c.fp = sg_io_open_read("png", path, &c.file_size);
  if (!c.fp) return NULL;
  sg_tensor *out = NULL;
  unsigned char sig[8];
  if (sg_io_read(c.fp, sig, 8) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    sg_error(SG_ERR_IO, "png: '%s': not a PNG file (bad signature)", path);
    goto done;
  }
  c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c.msgs, png_error_cb, png_warning_cb);
  if (c.png) c.info = png_create_info_struct(c.png);
  if (!c.png || !c.info) {
    sg_error(SG_ERR_MEM, "png: '%s': out of memory creating the decoder", path);
    goto done;
  }
  if (png_decode(&c) != 0) {
    sg_error(SG_ERR_IO, "png: '%s': %s", path, c.msgs.err);
    goto done;
  }
  int64_t H = c.height, W = c.width, C = c.channels;
  out = sg_empty((const int64_t[]){C, H, W}, 3, SG_FLOAT32, sg_cpu_device());
  if (!out) {
    sg_error_context("png: '%s'", path);
    goto done;
  }
  float *o = sg_data_ptr(out);
  int64_t plane = H * W;
  if (c.bit_depth == 8) {
    const unsigned char *p = c.pixels;
#pragma omp parallel for if (plane * C > (1 << 18))
    for (int64_t i = 0; i < plane; i++)
      for (int64_t k = 0; k < C; k++) o[k * plane + i] = (float)p[i * C + k] / 255.0f;
  } else {
    const unsigned char *p = c.pixels;
#pragma omp parallel for if (plane * C > (1 << 18))
    for (int64_t i = 0; i < plane; i++)
      for (int64_t k = 0; k < C; k++) {
        const unsigned char *s = p + 2 * (i * C + k);
        o[k * plane + i] = (float)((s[0] << 8) | s[1]) / 65535.0f;
      }
  }
done:
  if (c.png) png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
  free(c.rows);
  free(c.pixels);
  fclose(c.fp);
  return out;
}

/* ---- writing ---- */

typedef struct png_wctx {
  FILE *fp;
  png_structp png;
  png_infop info;
  png_bytep *rows;
  uint32_t width, height;
  int color_type;
  png_msgs msgs;
} png_wctx;

static int png_encode(png_wctx *c) {
  if (setjmp(png_jmpbuf(c->png))) return -1;
  png_init_io(c->png, c->fp);
  png_set_IHDR(c->png, c->info, c->width, c->height, 8, c->color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(c->png, c->info);
  png_write_image(c->png, c->rows);
  png_write_end(c->png, NULL);
  return 0;
}

static inline unsigned char to_u8(double v) {
  if (!(v > 0)) return 0; /* also NaN */
  if (v >= 1) return 255;
  return (unsigned char)(v * 255.0 + 0.5);
}

sg_status sg_png_write(const char *path, sg_tensor *img) {
  if (!path || !*path) return sg_error(SG_ERR_ARG, "png_write: path is NULL or empty");
  if (!img) return sg_error(SG_ERR_ARG, "png_write: image is NULL");
  char sbuf[128];
  sg_shape_str(img, sbuf, sizeof sbuf);
  if (img->ndim != 3 || img->shape[0] < 1 || img->shape[0] > 4)
    return sg_error(SG_ERR_ARG,
                    "png_write: image has shape %s, expected C x H x W with C = 1 (gray), "
                    "2 (gray+alpha), 3 (RGB) or 4 (RGBA)",
                    sbuf);
  if (img->dtype != SG_FLOAT32 && img->dtype != SG_FLOAT64 && img->dtype != SG_UINT8)
    return sg_error(SG_ERR_ARG, "png_write: image has dtype %s, expected float32, float64 or uint8",
                    sg_dtype_name(img->dtype));
  int64_t C = img->shape[0], H = img->shape[1], W = img->shape[2];
  if (H < 1 || W < 1 || H * W > PNG_MAX_PIXELS)
    return sg_error(SG_ERR_ARG, "png_write: image has shape %s, expected 1 to 2^28 pixels", sbuf);
  sg_tensor *src = sg_io_host_contiguous(img);
  if (!src) {
    sg_error_context("png_write: '%s'", path);
    return sg_last_status();
  }
  int64_t plane = H * W;
  unsigned char *buf = malloc((size_t)(plane * C));
  png_wctx c;
  memset(&c, 0, sizeof c);
  c.rows = malloc(sizeof(png_bytep) * (size_t)H);
  if (!buf || !c.rows) {
    free(buf);
    free(c.rows);
    sg_release(src);
    return sg_error(SG_ERR_MEM, "png_write: '%s': out of memory", path);
  }
  if (src->dtype == SG_UINT8) {
    const unsigned char *s = sg_data_ptr(src);
#pragma omp parallel for if (plane * C > (1 << 18))
    for (int64_t i = 0; i < plane; i++)
      for (int64_t k = 0; k < C; k++) buf[i * C + k] = s[k * plane + i];
  } else if (src->dtype == SG_FLOAT32) {
    const float *s = sg_data_ptr(src);
#pragma omp parallel for if (plane * C > (1 << 18))
    for (int64_t i = 0; i < plane; i++)
      for (int64_t k = 0; k < C; k++) buf[i * C + k] = to_u8(s[k * plane + i]);
  } else {
    const double *s = sg_data_ptr(src);
#pragma omp parallel for if (plane * C > (1 << 18))
    for (int64_t i = 0; i < plane; i++)
      for (int64_t k = 0; k < C; k++) buf[i * C + k] = to_u8(s[k * plane + i]);
  }
  sg_release(src);
  for (int64_t y = 0; y < H; y++) c.rows[y] = buf + y * W * C;
  c.width = (uint32_t)W;
  c.height = (uint32_t)H;
  static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  c.color_type = color_types[C];

  sg_atomic_file af;
  sg_status st = sg_atomic_open("png_write", path, &af);
  if (st == SG_OK) {
    c.fp = af.fp;
    c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c.msgs, png_error_cb, png_warning_cb);
    if (c.png) c.info = png_create_info_struct(c.png);
    if (!c.png || !c.info)
      st = sg_error(SG_ERR_MEM, "png_write: '%s': out of memory creating the encoder", path);
    else if (png_encode(&c) != 0)
      st = sg_error(SG_ERR_IO, "png_write: '%s': %s", path, c.msgs.err);
    if (c.png) png_destroy_write_struct(&c.png, c.info ? &c.info : NULL);
    if (st == SG_OK)
      st = sg_atomic_commit(&af);
    else
      sg_atomic_abort(&af);
  }
  free(buf);
  free(c.rows);
  return st;
}
