// phantom.cpp — plan and render synthetic chest radiographs (see phantom.h and docs/PHANTOM.md).
// Rendering is an attenuation cartoon: per pixel, A = soft tissue + bone + lung densities - lung
// air + metal, displayed as V = (1 - exp(-exposure * A))^gamma with detector blur and quantum noise.
// Shapes live in "anatomy" coordinates (x, y in [0, 1], y down, the patient's right on the image
// left); the pose (rotation, scale, shift) maps them to the image. Lungs are implicit regions
// (margins to the mediastinum, the lateral wall, the apex and the hemidiaphragm); bones, vessels,
// tubes and lines are polylines with tube profiles, rasterized inside their bounding boxes only.
#include "data/phantom.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "tensor/error.h"
#include "tensor/random.h"

namespace cxr::data {

std::array<int, 14> chexpert_labels(const PhantomFindings& f) {
  const bool consolidation = f.consolidation != Lobe::None;
  const bool opacity = f.edema >= 2 || consolidation;
  const bool pathology = f.edema > 0 || f.cardiomegaly || consolidation || f.effusion() || f.pneumothorax != Side::None;
  return {0,
          f.cardiomegaly ? 1 : 0,
          consolidation ? 1 : 0,
          f.edema > 0 ? 1 : 0,
          f.cardiomegaly ? 1 : 0,  // CheXpert's hierarchy: cardiomegaly implies an enlarged cardiomediastinum
          0,
          0,
          opacity ? 1 : 0,
          pathology ? 0 : 1,  // No Finding ignores support devices, as CheXpert
          f.effusion() ? 1 : 0,
          0,
          consolidation ? 1 : 0,
          f.pneumothorax != Side::None ? 1 : 0,
          f.devices.any() ? 1 : 0};
}

namespace {

// ---- random numbers: Philox streams keyed by (seed, purpose, index) ----

uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
uint64_t stream_key(uint64_t seed, uint64_t purpose, uint64_t index) { return mix64(mix64(seed ^ mix64(purpose)) + index); }

struct Rng {
  Generator gen;
  explicit Rng(uint64_t key) : gen(key) {}
  double u() { return gen.uniform(gen.reserve(1)); }
  double u(double a, double b) { return a + (b - a) * u(); }
  double n() { return gen.normal(gen.reserve(1)); }
  bool p(double prob) { return u() < prob; }
  int64_t i(int64_t lo, int64_t hi) { return gen.integer(gen.reserve(1), lo, hi); }  // [lo, hi)
  int category(const double* probs, int n) {
    double r = u(), acc = 0;
    for (int k = 0; k < n - 1; ++k) {
      acc += probs[k];
      if (r < acc) return k;
    }
    return n - 1;
  }
};

// ---- small geometry ----

struct Vec {
  double x = 0, y = 0;
};
inline Vec operator+(Vec a, Vec b) { return {a.x + b.x, a.y + b.y}; }
inline Vec operator-(Vec a, Vec b) { return {a.x - b.x, a.y - b.y}; }
inline Vec operator*(double s, Vec a) { return {s * a.x, s * a.y}; }
inline double dot(Vec a, Vec b) { return a.x * b.x + a.y * b.y; }
inline double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
inline double smoothstep(double e0, double e1, double v) {
  double t = clamp01((v - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}
inline double sq(double v) { return v * v; }

// Catmull-Rom spline through control points, `per` samples per span.
std::vector<Vec> spline(const std::vector<Vec>& c, int per = 8) {
  if (c.size() < 3) return c;
  std::vector<Vec> out;
  for (size_t i = 0; i + 1 < c.size(); ++i) {
    Vec p0 = c[i == 0 ? 0 : i - 1], p1 = c[i], p2 = c[i + 1], p3 = c[std::min(i + 2, c.size() - 1)];
    for (int k = 0; k < per; ++k) {
      double t = double(k) / per, t2 = t * t, t3 = t2 * t;
      auto cr = [&](double a, double b, double c2, double d) {
        return 0.5 * ((2 * b) + (-a + c2) * t + (2 * a - 5 * b + 4 * c2 - d) * t2 + (-a + 3 * b - 3 * c2 + d) * t3);
      };
      out.push_back({cr(p0.x, p1.x, p2.x, p3.x), cr(p0.y, p1.y, p2.y, p3.y)});
    }
  }
  out.push_back(c.back());
  return out;
}

// Value noise: a hashed lattice, smoothly interpolated; fbm sums octaves. Deterministic in (key, x, y).
double lattice(uint64_t key, int64_t ix, int64_t iy) {
  uint64_t h = mix64(key ^ (uint64_t(ix) * 0x9E3779B1ull) ^ (uint64_t(iy) * 0x85EBCA77C2B2AE63ull));
  return double(h >> 11) * (1.0 / 9007199254740992.0);
}
double value_noise(uint64_t key, double x, double y) {
  double fx = std::floor(x), fy = std::floor(y);
  int64_t ix = int64_t(fx), iy = int64_t(fy);
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  double a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy), c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
  return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}
double fbm(uint64_t key, double x, double y, int octaves) {
  double sum = 0, amp = 0.5, norm = 0;
  for (int o = 0; o < octaves; ++o) {
    sum += amp * value_noise(key + uint64_t(o) * 7919, x, y);
    norm += amp;
    x *= 2.03;
    y *= 2.03;
    amp *= 0.5;
  }
  return sum / norm;  // ~[0, 1], mean 0.5
}

// ---- the canvas: layers of densities over the image, and the pose ----

struct Canvas {
  int64_t S = 256;
  double cosr = 1, sinr = 0, scale = 1, tx = 0, ty = 0;
  std::vector<float> ax, ay;  // anatomy coordinates of every pixel centre
  // Layers (attenuation units): soft tissue, bone, air (subtracted), lung densities (masked by the
  // lung parenchyma), metal; `lung` the parenchyma mask, `side` the lung masks before the heart.
  std::vector<float> tissue, bone, air, lungd, metal, lung, side_mask;

  Canvas(int64_t size, const PhantomAcquisition& acq) : S(size) {
    const double r = acq.rotation_deg * M_PI / 180.0;
    cosr = std::cos(r);
    sinr = std::sin(r);
    scale = acq.scale;
    tx = acq.shift_x;
    ty = acq.shift_y;
    const size_t n = size_t(S * S);
    ax.resize(n);
    ay.resize(n);
    for (auto* v : {&tissue, &bone, &air, &lungd, &metal, &lung, &side_mask}) v->assign(n, 0.f);
    for (int64_t i = 0; i < S; ++i) {
      for (int64_t j = 0; j < S; ++j) {
        Vec a = to_anatomy({(double(j) + 0.5) / double(S), (double(i) + 0.5) / double(S)});
        ax[size_t(i * S + j)] = float(a.x);
        ay[size_t(i * S + j)] = float(a.y);
      }
    }
  }
  // image q = c + s R (p - c) + t, c = (0.5, 0.5)
  Vec to_image(Vec p) const {
    Vec d = p - Vec{0.5, 0.5};
    return {0.5 + scale * (cosr * d.x - sinr * d.y) + tx, 0.5 + scale * (sinr * d.x + cosr * d.y) + ty};
  }
  Vec to_anatomy(Vec q) const {
    Vec d = q - Vec{0.5 + tx, 0.5 + ty};
    return {0.5 + (cosr * d.x + sinr * d.y) / scale, 0.5 + (-sinr * d.x + cosr * d.y) / scale};
  }
  double pixel() const { return 1.0 / (double(S) * scale); }  // one pixel in anatomy units

  // Calls f(k, x, y) for the pixels whose anatomy coordinates may fall in [x0, x1] x [y0, y1].
  template <typename F>
  void for_box(double x0, double y0, double x1, double y1, F&& f) const {
    double qx0 = 1e9, qy0 = 1e9, qx1 = -1e9, qy1 = -1e9;
    for (Vec c : {Vec{x0, y0}, Vec{x1, y0}, Vec{x0, y1}, Vec{x1, y1}}) {
      Vec q = to_image(c);
      qx0 = std::min(qx0, q.x), qy0 = std::min(qy0, q.y), qx1 = std::max(qx1, q.x), qy1 = std::max(qy1, q.y);
    }
    const int64_t j0 = std::max<int64_t>(0, int64_t(std::floor(qx0 * S)) - 1), j1 = std::min<int64_t>(S - 1, int64_t(qx1 * S) + 1);
    const int64_t i0 = std::max<int64_t>(0, int64_t(std::floor(qy0 * S)) - 1), i1 = std::min<int64_t>(S - 1, int64_t(qy1 * S) + 1);
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j) {
        const size_t k = size_t(i * S + j);
        f(k, double(ax[k]), double(ay[k]));
      }
  }
};

enum class Profile { Tube, Bone, Gauss, Line };

// Adds a polyline of radius r(t) (t the arc fraction) with the given cross-section to `layer`
// (or takes the max with it). The distance to the polyline is found segment by segment, each
// segment visiting only the pixels of its own bounding box, into a scratch buffer over the
// polyline's bounding box; then the profile is applied there.
void draw_polyline(const Canvas& cv, std::vector<float>& layer, const std::vector<Vec>& pts, double r0, double r1,
                   double amp, Profile profile, const std::vector<float>* mask = nullptr, bool take_max = false) {
  if (pts.size() < 2) return;
  std::vector<double> cum(pts.size(), 0.0);
  for (size_t i = 1; i < pts.size(); ++i) cum[i] = cum[i - 1] + std::sqrt(sq(pts[i].x - pts[i - 1].x) + sq(pts[i].y - pts[i - 1].y));
  const double total = std::max(cum.back(), 1e-12);
  const double px = cv.pixel();
  const double rmax = std::max(r0, r1) * (profile == Profile::Gauss ? 2.5 : 1.25) + 2 * px;
  // The pixel box of the whole polyline.
  int64_t i0 = cv.S, i1 = -1, j0 = cv.S, j1 = -1;
  auto pixel_box = [&](double x0, double y0, double x1, double y1, int64_t& a0, int64_t& a1, int64_t& b0, int64_t& b1) {
    double qx0 = 1e9, qy0 = 1e9, qx1 = -1e9, qy1 = -1e9;
    for (Vec c : {Vec{x0, y0}, Vec{x1, y0}, Vec{x0, y1}, Vec{x1, y1}}) {
      Vec q = cv.to_image(c);
      qx0 = std::min(qx0, q.x), qy0 = std::min(qy0, q.y), qx1 = std::max(qx1, q.x), qy1 = std::max(qy1, q.y);
    }
    a0 = std::max<int64_t>(0, int64_t(std::floor(qy0 * double(cv.S))) - 1);
    a1 = std::min<int64_t>(cv.S - 1, int64_t(qy1 * double(cv.S)) + 1);
    b0 = std::max<int64_t>(0, int64_t(std::floor(qx0 * double(cv.S))) - 1);
    b1 = std::min<int64_t>(cv.S - 1, int64_t(qx1 * double(cv.S)) + 1);
  };
  struct SegBox {
    int64_t i0, i1, j0, j1;
  };
  std::vector<SegBox> boxes(pts.size() - 1);
  for (size_t s = 0; s + 1 < pts.size(); ++s) {
    SegBox& b = boxes[s];
    pixel_box(std::min(pts[s].x, pts[s + 1].x) - rmax, std::min(pts[s].y, pts[s + 1].y) - rmax,
              std::max(pts[s].x, pts[s + 1].x) + rmax, std::max(pts[s].y, pts[s + 1].y) + rmax, b.i0, b.i1, b.j0, b.j1);
    i0 = std::min(i0, b.i0), i1 = std::max(i1, b.i1), j0 = std::min(j0, b.j0), j1 = std::max(j1, b.j1);
  }
  if (i1 < i0 || j1 < j0) return;
  const int64_t bw = j1 - j0 + 1, bh = i1 - i0 + 1;
  std::vector<float> dist(size_t(bw * bh), 1e9f), frac(size_t(bw * bh), 0.f);
  for (size_t s = 0; s + 1 < pts.size(); ++s) {
    const SegBox& b = boxes[s];
    const Vec a = pts[s], ab = pts[s + 1] - a;
    const double len2 = dot(ab, ab);
    for (int64_t i = b.i0; i <= b.i1; ++i)
      for (int64_t j = b.j0; j <= b.j1; ++j) {
        const size_t k = size_t(i * cv.S + j);
        const Vec p = {cv.ax[k], cv.ay[k]};
        const double t = len2 > 0 ? clamp01(dot(p - a, ab) / len2) : 0;
        const double d2 = sq(p.x - a.x - t * ab.x) + sq(p.y - a.y - t * ab.y);
        const size_t q = size_t((i - i0) * bw + (j - j0));
        if (d2 < double(dist[q]) * double(dist[q])) {
          dist[q] = float(std::sqrt(d2));
          frac[q] = float((cum[s] + t * (cum[s + 1] - cum[s])) / total);
        }
      }
  }
  for (int64_t i = i0; i <= i1; ++i)
    for (int64_t j = j0; j <= j1; ++j) {
      const size_t q = size_t((i - i0) * bw + (j - j0)), k = size_t(i * cv.S + j);
      const double d = dist[q];
      if (d > rmax) continue;
      const double r = std::max(r0 + (r1 - r0) * double(frac[q]), 0.35 * px);
      double v = 0;
      switch (profile) {
        case Profile::Tube: {  // a solid cylinder seen from the side: chord length, anti-aliased edge
          double u = d / r;
          v = u < 1 ? std::sqrt(1 - u * u) : 0;
          v = std::max(v, 0.5 * smoothstep(r + px, r - px, d) * (u < 1.2 ? 1.0 : 0.0));
          break;
        }
        case Profile::Bone: {  // a hollow tube: the cortex is brighter than the medulla
          double u = d / r;
          if (u < 1) v = 0.7 * std::sqrt(1 - u * u) + 0.3 * std::exp(-sq((1 - u) / 0.25));
          v = std::max(v, 0.4 * smoothstep(r + px, r - px, d) * (u < 1.2 ? 1.0 : 0.0));
          break;
        }
        case Profile::Gauss: v = std::exp(-sq(d / r)); break;
        case Profile::Line: v = smoothstep(r + 0.7 * px, r - 0.7 * px, d); break;
      }
      if (mask) v *= (*mask)[k];
      if (take_max) {
        layer[k] = std::max(layer[k], float(amp * v));
      } else {
        layer[k] += float(amp * v);
      }
    }
}

// Ellipse (centre c, semi-axes a, b, rotated by theta) as a soft mask: 1 inside, 0 outside.
double ellipse_mask(Vec p, Vec c, double a, double b, double theta, double soft) {
  double ct = std::cos(theta), st = std::sin(theta);
  Vec d = p - c;
  double u = (ct * d.x + st * d.y) / a, v = (-st * d.x + ct * d.y) / b;
  double q = std::sqrt(u * u + v * v);
  return smoothstep(soft, -soft, (q - 1) * std::min(a, b));
}

// ---- the lungs ----

struct LungShape {
  double sign;  // -1 the right lung (image left), +1 the left lung
  double W, ya, ycp, yd, xdome, medial;
  // Lateral distance from the midline toward this lung.
  double X(double x) const { return sign * (x - 0.5); }
  double x_of(double X) const { return 0.5 + sign * X; }
  double lateral(double y) const {
    double t = clamp01((y - ya) / (0.8 * (ycp - ya)));
    double xl = W * (1 - 0.62 * std::pow(1 - t, 2.2));
    double ymid = ya + 0.8 * (ycp - ya);
    if (y > ymid) xl *= 1 - 0.03 * sq((y - ymid) / (ycp - ymid));
    return xl;
  }
  double top(double X) const { return ya + 1.6 * sq(X - 0.45 * W); }
  double bottom(double X) const {
    if (X > xdome) return yd + (ycp - yd) * std::pow((X - xdome) / (W - xdome), 1.7);
    return yd + 0.02 * sq((xdome - X) / xdome);
  }
  // Signed margin (positive inside), and the margin to the lateral wall/apex only.
  double margin(double x, double y) const {
    double Xv = X(x);
    return std::min({Xv - medial, lateral(y) - Xv, bottom(Xv) - y, y - top(Xv)});
  }
  double outer_margin(double x, double y) const {
    double Xv = X(x);
    return std::min(lateral(y) - Xv, y - top(Xv));
  }
};

struct Geometry {
  LungShape right, left;
  Vec heart_ra_c, heart_lv_c;
  double ra_a = 0, ra_b = 0, lv_a = 0, lv_b = 0, lv_theta = 0;
  Vec knob_c;
  double knob_r = 0.03;
  double carina_y = 0;
  Vec hilum_r, hilum_l;
};

Geometry make_geometry(const PhantomAnatomy& an, const PhantomAcquisition& acq) {
  Geometry g;
  const double W = an.thorax_half_width;
  const double insp = acq.inspiration;
  const double ya = an.apex_y;
  g.right = {-1, W, ya, an.dome_right_y + an.costophrenic_depth + insp, an.dome_right_y + insp, 0.42 * W,
             an.mediastinum_half_width};
  g.left = {+1, W * 0.98, ya + 0.005, an.dome_left_y + an.costophrenic_depth + insp, an.dome_left_y + insp, 0.45 * W,
            an.mediastinum_half_width + 0.008};
  // The heart: width = CTR * thorax width (magnified on AP films); a third of it right of midline.
  const double width = (an.heart_ctr + (acq.portable_ap ? 0.03 : 0.0)) * 2 * W;
  const double right_ext = 0.30 * width, left_ext = width - right_ext;
  g.ra_a = 0.06;
  g.ra_b = 0.1;
  g.heart_ra_c = {0.5 - right_ext + g.ra_a, g.right.yd - 0.085};
  g.lv_theta = an.heart_tilt;
  g.lv_a = 0.5 * width * 0.95;
  g.lv_b = 0.105;
  const double ext_x = std::sqrt(sq(g.lv_a * std::cos(g.lv_theta)) + sq(g.lv_b * std::sin(g.lv_theta)));
  g.heart_lv_c = {0.5 + left_ext - ext_x, g.left.yd - 0.095};
  g.knob_c = {0.5 + an.mediastinum_half_width + 0.012, ya + 0.125};
  g.carina_y = ya + 0.165;
  g.hilum_r = {0.5 - 0.095, ya + 0.245};
  g.hilum_l = {0.5 + 0.095, ya + 0.228};
  return g;
}

// ---- the pulmonary vessel tree (per patient) ----

struct Vessel {
  Vec a, b;
  double r0, r1;
  bool upper;  // belongs to an upper-lobe trunk (cephalization enlarges these)
};

void grow(Rng& rng, std::vector<Vessel>& out, Vec p, Vec dir, double len, double r, int depth, bool upper, double sign) {
  if (depth == 0 || r < 0.0012) return;
  Vec q = p + len * dir;
  const double rn = r * 0.74;
  out.push_back({p, q, r, rn, upper});
  const int children = depth > 1 ? 2 : 1;
  for (int c = 0; c < children; ++c) {
    double ang = (c == 0 ? -1 : 1) * rng.u(0.25, 0.55) + rng.n() * 0.08;
    if (children == 1) ang = rng.n() * 0.2;
    double ca = std::cos(ang), sa = std::sin(ang);
    Vec nd = {ca * dir.x - sa * dir.y, sa * dir.x + ca * dir.y};
    grow(rng, out, q, nd, len * rng.u(0.68, 0.85), rn * (c == 0 ? 1.0 : 0.85), depth - 1, upper, sign);
  }
}

std::vector<Vessel> vessel_tree(uint64_t key, const Geometry& g) {
  Rng rng(key);
  std::vector<Vessel> v;
  for (double sign : {-1.0, 1.0}) {
    Vec h = sign < 0 ? g.hilum_r : g.hilum_l;
    // trunks: (direction in (lateral, down), radius, upper?)
    struct Trunk {
      double dx, dy, r;
      bool upper;
    };
    const Trunk trunks[] = {{0.30, -1.0, 0.0050, true},  {0.75, -0.55, 0.0042, true}, {1.0, 0.05, 0.0045, false},
                            {0.85, 0.65, 0.0065, false}, {0.35, 1.0, 0.0070, false}};
    for (const Trunk& t : trunks) {
      double n = std::sqrt(t.dx * t.dx + t.dy * t.dy);
      Vec dir = {sign * t.dx / n, t.dy / n};
      double jitter = rng.n() * 0.12;
      dir = {std::cos(jitter) * dir.x - std::sin(jitter) * dir.y, std::sin(jitter) * dir.x + std::cos(jitter) * dir.y};
      grow(rng, v, h + 0.012 * dir, dir, rng.u(0.055, 0.075), t.r * rng.u(0.9, 1.1), 5, t.upper, sign);
    }
  }
  return v;
}

// ---- drawing the parts ----

void draw_body(Canvas& cv, const PhantomAnatomy& an, const Geometry& g, Rng& rng) {
  const double W = an.thorax_half_width, margin = an.body_margin;
  const double px = cv.pixel();
  const double dome = 0.5 * (g.right.yd + g.left.yd);
  for (size_t k = 0; k < cv.tissue.size(); ++k) {
    const double x = cv.ax[k], y = cv.ay[k], X = std::fabs(x - 0.5);
    // torso half-width: neck -> shoulders -> chest wall -> abdomen
    double bw = 0.085 + (W + margin - 0.085) * smoothstep(an.apex_y - 0.13, an.apex_y + 0.02, y);
    bw += 0.09 * std::exp(-sq((y - (an.apex_y + 0.0)) / 0.07));  // shoulders
    bw += 0.02 * smoothstep(dome, dome + 0.25, y);
    double q = X / bw;
    double t = q < 1 ? std::sqrt(1 - q * q) : 0;
    t = std::max(t, 0.3 * smoothstep(bw + px, bw - px, X));
    // the arms beside the chest at the top corners
    const double arm = smoothstep(W + margin + 0.03, W + margin + 0.06, X) * smoothstep(an.apex_y + 0.35, an.apex_y + 0.05, y);
    t = std::max(t, 0.55 * arm);
    // abdomen below the domes is thicker (liver, spleen)
    t *= 1.0 + 0.12 * smoothstep(dome - 0.02, dome + 0.08, y);
    cv.tissue[k] = float(t);
  }
  // breast shadows over the lower lungs
  if (an.breast > 0) {
    for (double sign : {-1.0, 1.0}) {
      Vec c = {0.5 + sign * 0.62 * W, dome - 0.06};
      cv.for_box(c.x - 0.2, c.y - 0.2, c.x + 0.2, c.y + 0.2, [&](size_t k, double x, double y) {
        double m = ellipse_mask({x, y}, c, 0.16, 0.13, 0, 0.01);
        double fade = smoothstep(c.y - 0.14, c.y + 0.02, y);  // brighter toward the inframammary fold
        cv.tissue[k] += float(0.22 * an.breast * m * fade);
      });
    }
  }
  (void)rng;
}

void draw_lungs(Canvas& cv, const PhantomAnatomy& an, const PhantomAcquisition& acq, const Geometry& g) {
  const double soft = 0.8 * cv.pixel();
  for (const LungShape* L : {&g.right, &g.left}) {
    const double x0 = L->x_of(L->sign < 0 ? L->W + 0.02 : -0.02), x1 = L->x_of(L->sign < 0 ? -0.02 : L->W + 0.02);
    cv.for_box(std::min(x0, x1), L->ya - 0.02, std::max(x0, x1), L->ycp + 0.02, [&](size_t k, double x, double y) {
      double m = L->margin(x, y);
      double inside = smoothstep(-soft, soft, m);
      if (inside <= 0) return;
      cv.side_mask[k] = std::max(cv.side_mask[k], float(inside));
    });
  }
  // The heart, the aortic knob and the mediastinum take their place from the lungs.
  for (size_t k = 0; k < cv.lung.size(); ++k) {
    if (cv.side_mask[k] <= 0) continue;
    Vec p = {cv.ax[k], cv.ay[k]};
    double heart = std::max(ellipse_mask(p, g.heart_lv_c, g.lv_a, g.lv_b, g.lv_theta, soft),
                            ellipse_mask(p, g.heart_ra_c, g.ra_a, g.ra_b, 0.0, soft));
    double knob = ellipse_mask(p, g.knob_c, g.knob_r, g.knob_r, 0, soft);
    double m = cv.side_mask[k] * (1 - heart) * (1 - knob);
    cv.lung[k] = float(m);
    // air: thicker (darker) away from the margins, a little less at the apices
    const LungShape& L = p.x < 0.5 ? g.right : g.left;
    double depth = smoothstep(-0.01, 0.11, L.margin(p.x, p.y));
    depth *= 0.9 + 0.2 * fbm(0x5eedull, p.x * 9, p.y * 9, 2);  // uneven aeration
    double zone = 0.85 + 0.15 * smoothstep(L.ya, L.ya + 0.25, p.y);
    cv.air[k] = float(m * (0.55 + 0.45 * depth) * zone);
  }
  (void)an;
  (void)acq;
}

void draw_mediastinum(Canvas& cv, const PhantomAnatomy& an, const Geometry& g) {
  // Trachea and main bronchi (air), gastric bubble.
  const double tx = 0.5 - 0.004;
  draw_polyline(cv, cv.air, {{tx, -0.05}, {tx, an.apex_y + 0.05}, {tx + 0.002, g.carina_y}}, 0.016, 0.015, 0.32, Profile::Tube);
  draw_polyline(cv, cv.air, spline({{tx, g.carina_y}, {tx - 0.04, g.carina_y + 0.03}, {g.hilum_r.x + 0.01, g.hilum_r.y - 0.01}}), 0.011,
                0.007, 0.22, Profile::Tube);
  draw_polyline(cv, cv.air, spline({{tx, g.carina_y}, {tx + 0.05, g.carina_y + 0.035}, {g.hilum_l.x - 0.01, g.hilum_l.y}}), 0.010,
                0.007, 0.2, Profile::Tube);
  Vec gb = {0.5 + 0.16, g.left.yd + 0.05};
  cv.for_box(gb.x - 0.07, gb.y - 0.04, gb.x + 0.07, gb.y + 0.04, [&](size_t k, double x, double y) {
    double m = ellipse_mask({x, y}, gb, 0.055, 0.03, 0, 0.004) * smoothstep(gb.y + 0.008, gb.y + 0.002, y);
    cv.air[k] += float(0.45 * m);
  });
  // The heart and the great vessels are thicker than the rest of the mediastinum.
  const double soft = 0.8 * cv.pixel();
  cv.for_box(0.2, g.knob_c.y - 0.06, 0.85, 0.5 * (g.right.yd + g.left.yd) + 0.08, [&](size_t k, double x, double y) {
    Vec p = {x, y};
    double heart = std::max(ellipse_mask(p, g.heart_lv_c, g.lv_a, g.lv_b, g.lv_theta, soft),
                            ellipse_mask(p, g.heart_ra_c, g.ra_a, g.ra_b, 0.0, soft));
    double knob = ellipse_mask(p, g.knob_c, g.knob_r, g.knob_r, 0, soft);
    cv.tissue[k] += float(0.015 * std::max(heart, knob));
  });
  // Hila: the pulmonary arteries, as soft blobs.
  for (Vec h : {g.hilum_r, g.hilum_l}) {
    cv.for_box(h.x - 0.08, h.y - 0.08, h.x + 0.08, h.y + 0.08, [&](size_t k, double x, double y) {
      cv.lungd[k] += float(0.22 * std::exp(-sq((x - h.x) / 0.03) - sq((y - h.y) / 0.045)));
    });
  }
}

void draw_bones(Canvas& cv, const PhantomAnatomy& an, const PhantomAcquisition& acq, const Geometry& g, Rng& rng) {
  const double W = an.thorax_half_width;
  // Spine: vertebral bodies with end plates, pedicles.
  const double phase = rng.u(0, 0.047);
  for (double yc = -0.02 + phase; yc < 1.05; yc += 0.047) {
    cv.for_box(0.5 - 0.05, yc - 0.03, 0.5 + 0.05, yc + 0.03, [&](size_t k, double x, double y) {
      double dx = std::fabs(x - 0.5) / 0.03, dy = std::fabs(y - yc) / 0.0185;
      double r = std::sqrt(std::sqrt(sq(sq(dx)) + sq(sq(dy))));  // rounded rectangle
      double body = smoothstep(1.05, 0.95, r);
      double rim = std::exp(-sq((r - 0.93) / 0.08));
      double ped = 0;
      for (double s : {-1.0, 1.0}) {
        double q = std::sqrt(sq((x - 0.5 - s * 0.021) / 0.007) + sq((y - yc + 0.004) / 0.0095));
        ped += std::exp(-sq((q - 0.85) / 0.25));
      }
      cv.bone[k] += float(0.1 * body + 0.1 * rim * body + 0.08 * ped);
    });
  }
  // Ribs: posterior (bright, near horizontal, sweeping down laterally), anterior (fainter, sloping
  // down medially).
  const LungShape* sides[] = {&g.right, &g.left};
  const double spacing = (0.5 * (g.right.yd + g.left.yd) - an.apex_y) / 8.3;
  for (const LungShape* L : sides) {
    for (int r = 0; r < 11; ++r) {
      const double y0 = an.apex_y - 0.035 + spacing * r + rng.n() * 0.003;
      const double span = L->W + 0.035;
      std::vector<Vec> post;
      for (int s = 0; s <= 12; ++s) {
        double t = s / 12.0, X = 0.025 + t * span;
        double y = y0 - 0.035 * t + (0.2 + 0.008 * r) * std::pow(t, 1.9);
        post.push_back({L->x_of(X), y});
      }
      // the lateral turn: down and back medially (becoming the anterior rib)
      Vec end = post.back();
      std::vector<Vec> ant = spline({end, {L->x_of(span + 0.01), end.y + 0.04},
                                     {L->x_of(span - 0.06), end.y + 0.085 + 0.004 * r},
                                     {L->x_of(0.42 * W), end.y + 0.15 + 0.006 * r}},
                                    6);
      const double thick = 0.0105 + 0.0008 * std::min(r, 6);
      draw_polyline(cv, cv.bone, post, thick * 0.8, thick, 0.22, Profile::Bone);
      if (r < 8) draw_polyline(cv, cv.bone, ant, thick * 0.95, thick * 0.8, 0.12, Profile::Bone);
    }
    // Clavicle: from the sternal notch out and up to the acromion.
    const double cy = an.apex_y + (acq.portable_ap ? 0.0 : 0.015);
    std::vector<Vec> clav = spline({{L->x_of(0.035), cy + 0.025}, {L->x_of(0.12), cy + 0.005},
                                    {L->x_of(0.25), cy - 0.012}, {L->x_of(W + 0.07), cy - (acq.portable_ap ? 0.02 : 0.05)}},
                                   8);
    draw_polyline(cv, cv.bone, clav, 0.015, 0.013, 0.5, Profile::Bone);
    // Humeral head and shaft.
    Vec hh = {L->x_of(W + 0.145), an.apex_y + 0.02};
    cv.for_box(hh.x - 0.08, hh.y - 0.08, hh.x + 0.08, hh.y + 0.08, [&](size_t k, double x, double y) {
      double m = ellipse_mask({x, y}, hh, 0.065, 0.07, 0, 0.004);
      cv.bone[k] += float(0.45 * m);
    });
    draw_polyline(cv, cv.bone, {hh, {L->x_of(W + 0.17), 0.75}}, 0.03, 0.026, 0.5, Profile::Bone);
    // Scapula: its medial border projects over the lung on AP films, lateral on PA films.
    const double sx = acq.portable_ap ? W - 0.05 : W + 0.02;
    draw_polyline(cv, cv.bone, spline({{L->x_of(sx + 0.05), an.apex_y - 0.01}, {L->x_of(sx), an.apex_y + 0.12},
                                       {L->x_of(sx + 0.04), an.apex_y + 0.3}}),
                  0.004, 0.003, 0.25, Profile::Bone);
    cv.for_box(L->x_of(W + 0.12) - 0.2, an.apex_y - 0.02, L->x_of(W + 0.12) + 0.2, an.apex_y + 0.32,
               [&](size_t k, double x, double y) {
                 double X = L->X(x);
                 double m = smoothstep(sx - 0.01, sx + 0.02, X - 0.15 * (y - an.apex_y)) *
                            smoothstep(an.apex_y + 0.31, an.apex_y + 0.2, y) * smoothstep(an.apex_y - 0.02, an.apex_y + 0.03, y);
                 cv.bone[k] += float(0.07 * m);
               });
  }
}

void draw_vessels(Canvas& cv, const std::vector<Vessel>& tree, int edema) {
  // Edema >= 1: vessels larger and indistinct; upper-zone vessels as large as the lower ones
  // (cephalization, redistribution).
  // Each vessel is drawn into its own layer with max(), so that joints do not double up.
  const double grow_all = edema == 0 ? 1.0 : 1.12 + 0.1 * edema;
  const double blur = 1.0 + 0.3 * edema;
  std::vector<float> layer(cv.lungd.size(), 0.f);
  for (const Vessel& v : tree) {
    double r0 = v.r0 * grow_all, r1 = v.r1 * grow_all;
    if (edema >= 1 && v.upper) r0 *= 1.55, r1 *= 1.55;
    const double amp = 0.22 * std::min(1.0, (r0 / 0.005)) / blur * (edema == 3 ? 0.6 : 1.0);
    draw_polyline(cv, layer, {v.a, v.b}, r0 * blur * 1.2, r1 * blur * 1.2, amp, Profile::Gauss, nullptr, true);
  }
  for (size_t k = 0; k < layer.size(); ++k) cv.lungd[k] += layer[k];
}

// The signs of edema beyond the vessels: grade 2 interstitial (Kerley B lines, peribronchial
// cuffing, hazy hila, reticular interstitial markings), grade 3 alveolar (bilateral perihilar
// airspace opacities with air bronchograms).
void draw_edema(Canvas& cv, const Geometry& g, int edema, Rng& rng, uint64_t noise_key) {
  if (edema < 2) {
    if (edema == 1) {  // mild hilar engorgement
      for (Vec h : {g.hilum_r, g.hilum_l})
        cv.for_box(h.x - 0.09, h.y - 0.09, h.x + 0.09, h.y + 0.09, [&](size_t k, double x, double y) {
          cv.lungd[k] += float(0.08 * std::exp(-sq((x - h.x) / 0.045) - sq((y - h.y) / 0.06)));
        });
    }
    return;
  }
  const double px = cv.pixel();
  for (const LungShape* L : {&g.right, &g.left}) {
    Vec h = L->sign < 0 ? g.hilum_r : g.hilum_l;
    // Hazy, enlarged hila.
    cv.for_box(h.x - 0.14, h.y - 0.14, h.x + 0.14, h.y + 0.14, [&](size_t k, double x, double y) {
      cv.lungd[k] += float(0.2 * std::exp(-sq((x - h.x) / 0.07) - sq((y - h.y) / 0.085)));
    });
    // Kerley B lines: short horizontal lines reaching the pleura at the lung bases.
    const int n = int(rng.i(7, 13));
    for (int i = 0; i < n; ++i) {
      double y = L->ycp - rng.u(0.025, 0.16);
      double Xw = L->lateral(y) - 0.002, len = rng.u(0.014, 0.028);
      std::vector<Vec> line = {{L->x_of(Xw), y}, {L->x_of(Xw - len), y + rng.n() * 0.002}};
      draw_polyline(cv, cv.lungd, line, std::max(0.0026, 0.6 * px), std::max(0.0026, 0.6 * px), 0.34, Profile::Line);
    }
    // Peribronchial cuffing: thick-walled bronchi seen end-on near the hilum.
    const int rings = int(rng.i(3, 6));
    for (int i = 0; i < rings; ++i) {
      Vec c = {h.x + L->sign * rng.u(0.02, 0.07), h.y + rng.u(-0.06, 0.06)};
      double rr = rng.u(0.006, 0.01), wall = std::max(0.003, 0.8 * px);
      cv.for_box(c.x - 0.02, c.y - 0.02, c.x + 0.02, c.y + 0.02, [&](size_t k, double x, double y) {
        double d = std::sqrt(sq(x - c.x) + sq(y - c.y));
        cv.lungd[k] += float(0.32 * std::exp(-sq((d - rr) / wall)));
      });
    }
  }
  // Interstitial markings: reticular texture over both lungs, heavier at the bases.
  for (size_t k = 0; k < cv.lung.size(); ++k) {
    if (cv.side_mask[k] <= 0) continue;
    const double x = cv.ax[k], y = cv.ay[k];
    const LungShape& L = x < 0.5 ? g.right : g.left;
    double basal = 0.4 + 0.6 * smoothstep(L.ya + 0.1, L.yd, y);
    double net = fbm(noise_key, x * 38, y * 38, 2);
    double reticular = smoothstep(0.45, 0.75, net);
    double v = (0.07 + 0.1 * reticular) * basal;
    if (edema == 3) {
      // Bat-wing alveolar opacities: perihilar, bilateral, sparing the periphery, fluffy.
      Vec h = x < 0.5 ? g.hilum_r : g.hilum_l;
      double cx = h.x + (x < 0.5 ? -0.04 : 0.04);
      double wing = std::exp(-sq((x - cx) / 0.13) - sq((y - h.y - 0.03) / 0.16));
      double fluffy = fbm(noise_key + 17, x * 14, y * 14, 3);
      double periphery = smoothstep(0.0, 0.07, L.outer_margin(x, y));
      v += 0.75 * wing * smoothstep(0.25, 0.65, fluffy * 0.6 + wing * 0.5) * periphery + 0.12 * wing;
    }
    cv.lungd[k] += float(v * cv.side_mask[k]);
  }
  if (edema == 3) {  // air bronchograms inside the perihilar opacity
    for (double sign : {-1.0, 1.0}) {
      Vec h = sign < 0 ? g.hilum_r : g.hilum_l;
      for (int b = 0; b < 3; ++b) {
        double ang = rng.u(-0.9, 0.9);
        Vec dir = {sign * std::cos(ang), std::sin(ang)};
        Vec p0 = h + 0.02 * dir, p1 = h + rng.u(0.06, 0.1) * dir;
        Vec p2 = p1 + 0.04 * Vec{dir.x + rng.n() * 0.3, dir.y + rng.n() * 0.3};
        draw_polyline(cv, cv.lungd, {p0, p1, p2}, 0.0045, 0.0025, -0.28, Profile::Tube);
      }
    }
  }
}

void draw_effusion(Canvas& cv, const LungShape& L, int grade, Rng& rng) {
  if (grade <= 0) return;
  const double rise[] = {0.045, 0.14, 0.28};
  const double meniscus[] = {0.035, 0.07, 0.09};
  const double ytop = L.ycp - rise[grade - 1] * rng.u(0.85, 1.15);
  const double dm = meniscus[grade - 1];
  const double x0 = L.x_of(-0.02), x1 = L.x_of(L.W + 0.03);
  cv.for_box(std::min(x0, x1), ytop - 0.02, std::max(x0, x1), L.ycp + 0.03, [&](size_t k, double x, double y) {
    double X = L.X(x);
    if (X < 0) return;
    // The fluid surface climbs the lateral chest wall (meniscus): lowest medially.
    double yf = ytop + dm * std::pow(clamp01((L.W - X) / L.W), 1.3);
    double fluid = smoothstep(yf - 0.003, yf + 0.035, y);
    if (fluid <= 0) return;
    cv.air[k] *= float(1 - 0.93 * fluid);
    cv.lungd[k] *= float(1 - 0.7 * fluid);
    cv.tissue[k] += float(0.1 * fluid * cv.side_mask[k]);
  });
}

void draw_pneumothorax(Canvas& cv, const LungShape& L, int size) {
  const double gap_apex = size >= 2 ? 0.085 : 0.032;
  const double taper = size >= 2 ? 0.55 : 0.85;
  const double px = cv.pixel();
  const double x0 = L.x_of(-0.02), x1 = L.x_of(L.W + 0.03);
  cv.for_box(std::min(x0, x1), L.ya - 0.02, std::max(x0, x1), L.ycp, [&](size_t k, double x, double y) {
    if (cv.side_mask[k] <= 0) return;
    double t = clamp01((y - L.ya) / (L.ycp - L.ya));
    double gap = gap_apex * std::max(0.0, 1 - taper * t / 0.8);
    double d = L.outer_margin(x, y);
    if (gap <= 0) return;
    // Beyond the visceral pleural line: no lung markings, all air.
    double ptx = smoothstep(gap + px, gap - px, d);
    cv.lungd[k] *= float(1 - ptx);
    cv.air[k] += float(0.22 * ptx * cv.lung[k]);
    // The visceral pleural line itself, thin and white.
    cv.lungd[k] += float(0.45 * std::exp(-sq((d - gap) / std::max(0.0025, 0.7 * px))) * (gap > 0.004 ? 1 : 0));
  });
}

void draw_consolidation(Canvas& cv, const Geometry& g, Lobe lobe, Rng& rng, uint64_t noise_key) {
  if (lobe == Lobe::None) return;
  const LungShape& L = (lobe == Lobe::RUL || lobe == Lobe::RML || lobe == Lobe::RLL) ? g.right : g.left;
  Vec c;
  switch (lobe) {
    case Lobe::RUL: c = {L.x_of(0.55 * L.W), L.ya + 0.11}; break;
    case Lobe::RML: c = {L.x_of(0.17), L.yd - 0.09}; break;  // against the right heart border (silhouette sign)
    case Lobe::RLL: c = {L.x_of(0.6 * L.W), L.yd - 0.03}; break;
    case Lobe::LUL: c = {L.x_of(0.55 * L.W), L.ya + 0.13}; break;
    case Lobe::LLL: c = {L.x_of(0.15), L.yd - 0.05}; break;  // retrocardiac
    default: break;
  }
  struct Blob {
    Vec c;
    double s;
  };
  std::vector<Blob> blobs;
  for (int i = 0; i < 8; ++i) blobs.push_back({c + Vec{rng.n() * 0.04, rng.n() * 0.035}, rng.u(0.035, 0.07)});
  cv.for_box(c.x - 0.18, c.y - 0.18, c.x + 0.18, c.y + 0.18, [&](size_t k, double x, double y) {
    if (cv.side_mask[k] <= 0) return;
    double s = 0;
    for (const Blob& b : blobs) s = std::max(s, std::exp(-(sq(x - b.c.x) + sq(y - b.c.y)) / sq(b.s)));
    double fluffy = fbm(noise_key + 99, x * 26, y * 26, 3);
    double v = smoothstep(0.15, 0.95, s * (0.35 + 1.2 * fluffy)) * smoothstep(0.02, 0.5, s);
    cv.lungd[k] += float(0.42 * v * cv.side_mask[k]);
    cv.air[k] *= float(1 - 0.3 * v);
  });
  // Air bronchograms.
  for (int b = 0; b < 3; ++b) {
    Vec p0 = c + Vec{rng.n() * 0.02, rng.n() * 0.02};
    double ang = rng.u(0, 2 * M_PI);
    Vec dir = {std::cos(ang), std::sin(ang)};
    draw_polyline(cv, cv.lungd, {p0, p0 + 0.04 * dir, p0 + 0.07 * Vec{dir.x + rng.n() * 0.4, dir.y + rng.n() * 0.4}}, 0.004,
                  0.0025, -0.3, Profile::Tube);
  }
}

void draw_devices(Canvas& cv, const PhantomFindings& f, const PhantomAnatomy& an, const Geometry& g, Rng& rng) {
  const double px = cv.pixel();
  const double wire = std::max(0.0032, 0.75 * px);
  if (f.devices.endotracheal_tube) {
    const double tip = g.carina_y - rng.u(0.03, 0.07);
    const double x = 0.5 - 0.004 + rng.n() * 0.002;
    draw_polyline(cv, cv.metal, {{x, -0.05}, {x, tip}}, 0.011, 0.011, 0.12, Profile::Tube);                     // the tube
    draw_polyline(cv, cv.metal, {{x - 0.006, -0.05}, {x - 0.006, tip}}, wire, wire, 0.9, Profile::Line);        // radiopaque stripe
  }
  if (f.devices.enteric_tube) {
    Vec stomach = {0.5 + 0.15, g.left.yd + 0.07};
    auto path = spline({{0.5 + 0.01, -0.05}, {0.5 + 0.012, an.apex_y + 0.1}, {0.5 + 0.025, g.left.yd - 0.05},
                        {0.5 + 0.06, g.left.yd + 0.04}, stomach, {stomach.x + 0.03, stomach.y - 0.02}},
                       10);
    draw_polyline(cv, cv.metal, path, wire * 1.2, wire * 1.2, 0.75, Profile::Tube);
  }
  if (f.devices.central_line) {  // right subclavian into the SVC
    const double tip_y = g.carina_y + rng.u(0.0, 0.06);
    auto path = spline({{0.5 - an.thorax_half_width - 0.06, an.apex_y + 0.02}, {0.5 - 0.2, an.apex_y + 0.035},
                        {0.5 - 0.07, an.apex_y + 0.05}, {0.5 - 0.035, an.apex_y + 0.1}, {0.5 - 0.03, tip_y}},
                       10);
    draw_polyline(cv, cv.metal, path, wire, wire, 0.7, Profile::Tube);
  }
  if (f.devices.pacemaker) {  // generator below the left clavicle, leads to the right atrium and ventricle
    Vec gen = {0.5 + an.thorax_half_width * 0.62, an.apex_y + 0.07};
    const double th = rng.n() * 0.2;
    cv.for_box(gen.x - 0.07, gen.y - 0.07, gen.x + 0.07, gen.y + 0.07, [&](size_t k, double x, double y) {
      double ct = std::cos(th), st = std::sin(th);
      double u = (ct * (x - gen.x) + st * (y - gen.y)) / 0.045, v = (-st * (x - gen.x) + ct * (y - gen.y)) / 0.032;
      double r = std::sqrt(std::sqrt(sq(sq(u)) + sq(sq(v))));
      double m = smoothstep(1.0 + 0.02, 1.0 - 0.02, r);
      double core = smoothstep(0.62, 0.55, r);
      cv.metal[k] += float(2.2 * m - 0.5 * core * m);
    });
    Vec ra = {0.5 - 0.045, g.right.yd - 0.1};
    Vec rv = {g.heart_lv_c.x + 0.02, g.left.yd - 0.03};
    auto lead1 = spline({gen, {0.5 + 0.1, an.apex_y + 0.045}, {0.5 - 0.01, an.apex_y + 0.08}, {0.5 - 0.035, g.carina_y + 0.05}, ra}, 10);
    auto lead2 = spline({gen, {0.5 + 0.11, an.apex_y + 0.055}, {0.5 - 0.02, an.apex_y + 0.09}, {0.5 - 0.04, g.carina_y + 0.07},
                         {0.5 - 0.03, g.right.yd - 0.06}, rv},
                        10);
    draw_polyline(cv, cv.metal, lead1, wire, wire, 0.9, Profile::Tube);
    draw_polyline(cv, cv.metal, lead2, wire, wire, 0.9, Profile::Tube);
  }
}

// The burned-in "L" laterality marker, in image coordinates (top right corner, the patient's left).
void draw_marker(std::vector<float>& v, int64_t S) {
  const int64_t x0 = S - S / 9, y0 = S / 22, h = std::max<int64_t>(5, S / 22), w = std::max<int64_t>(3, S / 36),
                t = std::max<int64_t>(1, S / 160);
  for (int64_t i = y0; i < y0 + h && i < S; ++i)
    for (int64_t j = x0; j < x0 + w && j < S; ++j)
      if (j < x0 + t || i >= y0 + h - t) v[size_t(i * S + j)] = 1.0f;
}

}  // namespace

// ---- planning ----

std::vector<PhantomImage> plan_phantoms(int64_t n, uint64_t seed, const PhantomOptions& options) {
  CXR_CHECK(n >= 0, "plan_phantoms: negative count ", n);
  const PhantomPrevalence& pv = options.prevalence;
  double psum = 0;
  for (double p : pv.edema) {
    CXR_CHECK(p >= 0, "phantom: negative edema prevalence");
    psum += p;
  }
  CXR_CHECK(std::fabs(psum - 1) < 1e-6, "phantom: edema prevalences must sum to 1, got ", psum);
  for (double p : {pv.cardiomegaly, pv.effusion, pv.pneumothorax, pv.consolidation, pv.support_devices})
    CXR_CHECK(p >= 0 && p <= 1, "phantom: prevalence ", p, " outside [0, 1]");
  // E[1 + k e] for the correlation with edema.
  double mean_e = 0;
  for (int e = 0; e < 4; ++e) mean_e += pv.edema[size_t(e)] * e;
  const double k = pv.edema_correlation, norm = 1 + k * mean_e;
  auto correlated = [&](double p, int e) { return std::min(1.0, p * (1 + k * e) / norm); };

  Rng rng(stream_key(seed, 1, 0));
  std::vector<PhantomImage> out;
  out.reserve(size_t(n));
  int64_t patient = 0;
  while (int64_t(out.size()) < n) {
    PhantomAnatomy an;
    an.male = rng.p(0.55);
    an.age = int(rng.i(25, 95));
    an.thorax_half_width = rng.u(0.33, 0.385) * (an.male ? 1.0 : 0.97);
    an.apex_y = rng.u(0.12, 0.17);
    an.dome_right_y = rng.u(0.66, 0.74);
    an.dome_left_y = an.dome_right_y + rng.u(0.005, 0.035);
    an.costophrenic_depth = rng.u(0.06, 0.1);
    an.mediastinum_half_width = rng.u(0.048, 0.062);
    an.heart_tilt = rng.u(0.35, 0.65);
    an.body_margin = rng.u(0.05, 0.11);
    an.breast = an.male ? 0.0 : rng.u(0.3, 1.0);
    an.vessel_seed = stream_key(seed, 2, uint64_t(patient));
    const std::string patient_id = std::to_string(10000000 + (mix64(seed * 31 + uint64_t(patient)) % 9000000) * 10 +
                                                  uint64_t(patient) % 10);
    const int visits = 1 + int(rng.i(0, int64_t(std::max(1.0, options.max_studies_per_patient))));
    // Patient-level: a chronic cardiomegaly drawn given the first visit's edema, a pacemaker.
    bool have_prior = false;
    PhantomFindings prior;
    const bool pacemaker = rng.p(pv.support_devices * 0.25);
    bool cardiomegaly = false;
    for (int visit = 0; visit < visits && int64_t(out.size()) < n; ++visit) {
      PhantomFindings f;
      f.edema = rng.category(pv.edema.data(), 4);
      if (visit == 0) {
        cardiomegaly = rng.p(correlated(pv.cardiomegaly, f.edema));
        // Cardiothoracic ratio: normal below 0.5, cardiomegaly from 0.55 (mild) to 0.7 (severe).
        an.heart_ctr = cardiomegaly ? rng.u(0.56, 0.7) : rng.u(0.38, 0.49);
      }
      f.cardiomegaly = cardiomegaly;
      if (rng.p(correlated(pv.effusion, f.edema))) {
        const double grade_p[] = {0.5, 0.35, 0.15};
        int side = rng.category(std::array<double, 3>{0.35, 0.25, 0.4}.data(), 3);  // right, left, both
        int g1 = 1 + rng.category(grade_p, 3), g2 = 1 + rng.category(grade_p, 3);
        if (side == 0 || side == 2) f.effusion_right = g1;
        if (side == 1 || side == 2) f.effusion_left = side == 2 ? g2 : g1;
      }
      if (rng.p(pv.pneumothorax)) {
        f.pneumothorax = rng.p(0.5) ? Side::Right : Side::Left;
        f.pneumothorax_size = rng.p(0.6) ? 1 : 2;
      }
      if (rng.p(pv.consolidation)) f.consolidation = Lobe(1 + rng.i(0, 5));
      // Devices: P(any) = support_devices; the pacemaker is the patient's, the others per visit.
      f.devices.pacemaker = pacemaker;
      if (!pacemaker && rng.p(pv.support_devices / (1 - pv.support_devices * 0.25 + 1e-12) * 0.999)) {
        int kind = int(rng.i(0, 7));
        f.devices.endotracheal_tube = kind <= 2;
        f.devices.enteric_tube = kind <= 1 || kind == 3 || kind == 6;
        f.devices.central_line = kind == 0 || kind >= 4;
      }
      PhantomAcquisition acq;
      const bool icu = f.devices.endotracheal_tube || f.devices.central_line || f.edema == 3;
      acq.portable_ap = rng.p(icu ? 0.85 : 0.35);
      const double study_number = double(50000000 + (mix64(seed * 131 + uint64_t(out.size())) % 9999999));
      const std::string study_id = std::to_string(int64_t(study_number));
      const int images = rng.p(0.08) ? 2 : 1;
      for (int im = 0; im < images && int64_t(out.size()) < n; ++im) {
        PhantomImage img;
        img.patient = patient;
        img.visit = visit;
        img.index = int64_t(out.size());
        img.seed = seed;
        img.patient_id = patient_id;
        img.study_id = study_id;
        char dicom[48];
        uint64_t h1 = mix64(seed ^ (uint64_t(img.index) * 0x9E37ull)), h2 = mix64(h1);
        std::snprintf(dicom, sizeof dicom, "%08x-%08x-%08x-%08x", unsigned(h1 >> 32), unsigned(h1), unsigned(h2 >> 32),
                      unsigned(h2));
        img.id = "p" + patient_id + "_s" + study_id + "_" + dicom;
        img.anatomy = an;
        img.findings = f;
        img.has_prior = have_prior;
        img.prior = prior;
        // acquisition: pose, inspiration, exposure, noise
        acq.rotation_deg = rng.n() * 2.0;
        acq.scale = rng.u(0.9, 1.04);
        acq.shift_x = rng.n() * 0.015;
        acq.shift_y = rng.n() * 0.015 + (acq.portable_ap ? 0.01 : 0.0);
        acq.inspiration = rng.n() * 0.015 + (acq.portable_ap ? 0.02 : 0.0);
        acq.exposure = rng.u(1.35, 1.9);
        acq.gamma = rng.u(0.85, 1.2);
        acq.scatter = acq.portable_ap ? rng.u(0.03, 0.09) : rng.u(0.0, 0.03);
        acq.noise = rng.u(0.006, 0.016) * (acq.portable_ap ? 1.3 : 1.0);
        acq.marker = rng.p(0.8);
        img.acquisition = acq;
        out.push_back(std::move(img));
      }
      prior = f;
      have_prior = true;
    }
    ++patient;
  }
  return out;
}

// ---- rendering ----

Tensor render_phantom(const PhantomImage& image, const PhantomOptions& options) {
  const int64_t S = options.size;
  CXR_CHECK(S >= 32 && S <= 4096, "render_phantom: size must be in [32, 4096], got ", S);
  Rng rng(stream_key(image.seed, 3, uint64_t(image.index)));
  const uint64_t noise_key = stream_key(image.seed, 4, uint64_t(image.index));
  const PhantomAnatomy& an = image.anatomy;
  const PhantomAcquisition& acq = image.acquisition;
  const PhantomFindings& f = image.findings;
  Canvas cv(S, acq);
  const Geometry g = make_geometry(an, acq);

  draw_body(cv, an, g, rng);
  draw_lungs(cv, an, acq, g);
  draw_mediastinum(cv, an, g);
  draw_bones(cv, an, acq, g, rng);
  draw_vessels(cv, vessel_tree(an.vessel_seed, g), f.edema);
  draw_edema(cv, g, f.edema, rng, noise_key);
  draw_consolidation(cv, g, f.consolidation, rng, noise_key);
  draw_effusion(cv, g.right, f.effusion_right, rng);
  draw_effusion(cv, g.left, f.effusion_left, rng);
  if (f.pneumothorax == Side::Right) draw_pneumothorax(cv, g.right, f.pneumothorax_size);
  if (f.pneumothorax == Side::Left) draw_pneumothorax(cv, g.left, f.pneumothorax_size);
  draw_devices(cv, f, an, g, rng);

  // Compose: attenuation -> display value, detector blur, quantum noise.
  const size_t n = size_t(S * S);
  std::vector<float> v(n);
  for (size_t k = 0; k < n; ++k) {
    const double lung_detail = double(cv.lungd[k]) * (0.35 + 0.65 * cv.side_mask[k]);
    // bones fade where the soft tissue is thick (below the domes): the display compresses there
    const double bone = cv.bone[k] * (1.0 - 0.75 * smoothstep(0.85, 1.1, double(cv.tissue[k]) - 0.8 * cv.air[k]));
    double A = 1.0 * cv.tissue[k] + 0.6 * bone + lung_detail - 0.72 * cv.air[k] + cv.metal[k];
    A = std::max(0.0, A) + acq.scatter;
    v[k] = float(std::pow(1 - std::exp(-acq.exposure * A), acq.gamma));
  }
  // [1 2 1] / 4 separable blur (the detector's point spread).
  std::vector<float> tmp(n);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) {
      const size_t k = size_t(i * S + j);
      float l = v[k - (j > 0 ? 1 : 0)], r = v[k + (j < S - 1 ? 1 : 0)];
      tmp[k] = 0.25f * l + 0.5f * v[k] + 0.25f * r;
    }
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) {
      const size_t k = size_t(i * S + j);
      float u = tmp[k - (i > 0 ? size_t(S) : 0)], d = tmp[k + (i < S - 1 ? size_t(S) : 0)];
      v[k] = 0.25f * u + 0.5f * tmp[k] + 0.25f * d;
    }
  if (acq.marker) draw_marker(v, S);
  // Quantum noise, sigma ~ sqrt(signal): two normals per Philox block (Box-Muller). Smaller images
  // average more detector area per pixel, so the noise scales down with the size (sqrt(S / 256): a
  // compromise between a fixed dose (S / 256) and the look of downsampled clinical images).
  const double sigma = acq.noise * options.noise * std::sqrt(double(S) / 256.0);
  if (sigma > 0) {
    const uint64_t key = stream_key(image.seed, 5, uint64_t(image.index));
    for (size_t k = 0; k < n; k += 2) {
      auto w = philox4x32(key, k / 2);
      double u1 = 1.0 - double((uint64_t(w[0]) << 21) ^ w[1]) / 9007199254740992.0;
      double u2 = double((uint64_t(w[2]) << 21) ^ w[3]) / 9007199254740992.0;
      double rad = std::sqrt(-2.0 * std::log(std::max(u1, 1e-300)));
      double z[2] = {rad * std::cos(2 * M_PI * u2), rad * std::sin(2 * M_PI * u2)};
      for (size_t q = 0; q < 2 && k + q < n; ++q) v[k + q] += float(sigma * std::sqrt(std::max(double(v[k + q]), 0.02)) * z[q]);
    }
  }
  // 65535 * img / max, rounded: the values the 16-bit PNG will hold.
  float top = 1e-6f;
  for (float& x : v) {
    x = std::max(x, 0.0f);
    top = std::max(top, x);
  }
  Tensor out = empty({S, S});
  float* o = out.data<float>();
  for (size_t k = 0; k < n; ++k) o[k] = std::nearbyint(65535.0f * v[k] / top);
  return out;
}

}  // namespace cxr::data
