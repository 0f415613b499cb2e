-- sgen.train.run: the plumbing every GAN experiment repeats (options checks,
-- presets, device, output folder, config.json, resume, Fashion-MNIST data,
-- evaluation in the Fashion-MNIST classifier space, a class histogram for
-- mode collapse, an SVG bar chart). Used by experiments/spgan.lua and
-- experiments/self_sparse.lua; experiments/gan_sparse.lua still has its own
-- copies (to be replaced by these).
--
--   local run = require "sgen.train.run"
--   run.one_of("variant", opts.variant, {"a", "b"})       -- sgen: --variant must be a, b, got 'c'
--   run.preset(opts, given, {iters = 60})                   -- only keys not given on the command line
--   local out = run.output_dir(opts, "spgan", resume_dir, extra_config)
--   local start = run.resume(ckpt, out, state, opts.iters, "spgan")
--   local r = run.evaluate(imgs, ref_feats, {seed = 1})   -- fid, kid, kid_std, is, is_std, classes
--   run.bar_chart("classes.svg", run.FMNIST_CLASSES, counts, {title = ...})
--
-- "FID" is the Fréchet distance in the 128-d features of sgen's Fashion-MNIST
-- classifier (sg.metrics.frechet_features), not Inception-FID.
local sg = require "sgen"
local util = require "sgen.util"

local M = {}

M.FMNIST_CLASSES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
  "Bag", "Ankle boot"}

M.FID_NOTE = "Fréchet distance in sgen's Fashion-MNIST classifier feature space; not comparable to Inception FID"

function M.usage(fmt, ...) error(string.format("sgen: " .. fmt, ...), 0) end
local usage = M.usage

local function flag(key) return (key:gsub("_", "-")) end

function M.one_of(name, v, allowed)
  for _, a in ipairs(allowed) do if v == a then return end end
  usage("--%s must be %s, got '%s'", flag(name), table.concat(allowed, ", "), tostring(v))
end

-- at_least(opts, {keys}, min): every opts[key] >= min.
function M.at_least(opts, keys, min)
  for _, key in ipairs(keys) do
    if opts[key] < min then
      usage("--%s must be %s, got %s", flag(key), min == 0 and ">= 0" or ("at least " .. min), tostring(opts[key]))
    end
  end
end

-- preset(opts, given, values): the values for the options not given.
function M.preset(opts, given, values)
  for key, v in pairs(values) do
    if not given[key] then opts[key] = v end
  end
end

function M.device(name)
  local device = name
  if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
  M.one_of("device", device, {"cpu", "cuda"})
  return device
end

function M.mkdir(path)
  assert(os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'"), "cannot create directory " .. path)
end

-- output_dir(opts, name, resume_dir, extra): the run folder (opts.out or
-- runs/<name>/<UTC timestamp>) with samples/; writes config.json (opts plus
-- extra, the values actually used) unless resuming. Sets opts.out.
function M.output_dir(opts, name, resume_dir, extra)
  local out = opts.out ~= "" and opts.out or ("runs/" .. name .. "/" .. os.date("!%Y%m%d-%H%M%S"))
  opts.out = out
  M.mkdir(out .. "/samples")
  if not resume_dir then
    local config = {}
    for key, v in pairs(opts) do config[key] = v end
    for key, v in pairs(extra or {}) do config[key] = v end
    config.sgen_version = sg.version
    util.json.write(out .. "/config.json", config)
  end
  return out
end

-- resume(ckpt, out, state, iters, name) -> the checkpoint's iteration (0
-- without a checkpoint is an error: the caller resumes only with --resume).
function M.resume(ckpt, out, state, iters, name)
  if not sg.train.find_checkpoint(out) then
    usage("--resume=%s: no checkpoint in %s/checkpoints (the run stopped before its first one: start it again)",
      out, out)
  end
  local start = ckpt:load(out, state)
  if start > iters then
    usage("--resume=%s: the checkpoint is of iteration %d, past --iters=%d (give --iters >= %d to continue)",
      out, start, iters, start)
  end
  print(string.format("%s: resumed %s at iteration %d of %d", name, out, start, iters))
  return start
end

-- with_seed(seed, fn, ...): fn under sg.manual_seed(seed), the caller's RNG
-- stream restored afterwards (evaluations must not disturb training).
function M.with_seed(seed, fn, ...)
  local rng = sg.get_rng_state()
  sg.manual_seed(seed)
  local res = table.pack(pcall(fn, ...))
  sg.set_rng_state(rng)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- Training images: Fashion-MNIST 32x32 (padded, [-1, 1]) or CIFAR-10 (mapped
-- to [-1, 1] by the loader's transform). Returns dataset, nc, transform.
function M.train_set(opts)
  if opts.data == "fmnist" then
    return sg.data.fashion_mnist32(opts.data_dir ~= "" and opts.data_dir or nil, "train"), 1, nil
  end
  return sg.data.cifar10(opts.data_dir, "train"), 3, function(x, y) return x * 2 - 1, y end
end

-- The 10,000 test images' classifier features (CIFAR-10: grayscale, [-1, 1]).
function M.reference_features(opts)
  local test = opts.data == "fmnist" and sg.data.fashion_mnist32(opts.data_dir ~= "" and opts.data_dir or nil, "test")
    or sg.data.cifar10(opts.data_dir, "test")
  local imgs = test:batch(sg.arange(1, test:len() + 1, {dtype = "int64"}))
  if opts.data == "cifar10" then imgs = (imgs * 2 - 1):mean(2, true) end
  return sg.metrics.frechet_features(imgs)
end

-- class_counts(gray) -> {10 counts}: argmax of the classifier's logits over
-- N x 1 x 32 x 32 images in [-1, 1] (a mode-collapse check).
function M.class_counts(gray)
  local model = sg.metrics.feature_network({device = gray:device()})
  local counts = {}
  local k
  sg.no_grad(function()
    for start = 1, gray:size(1), 500 do
      local len = math.min(500, gray:size(1) - start + 1)
      local logits = model(gray:narrow(1, start, len):float())
      k = k or logits:size(2)
      local idx = logits:argmax(2):cpu():reshape(-1):totable()
      for _, c in ipairs(idx) do
        c = math.tointeger(c) -- indices are 1-based
        counts[c] = (counts[c] or 0) + 1
      end
    end
  end)
  for c = 1, k do counts[c] = counts[c] or 0 end
  return counts
end

-- evaluate(imgs, ref, {seed, kid_subset}) -> {fid, kid, kid_std, is, is_std,
-- classes}: imgs N x nc x 32 x 32 (nc = 3 is averaged to gray), clamped to
-- [-1, 1] first (a generator without Tanh may overshoot).
function M.evaluate(imgs, ref, opts)
  opts = opts or {}
  local gray = imgs:size(2) == 3 and imgs:mean(2, true) or imgs
  gray = gray:clamp(-1, 1)
  local feats = sg.metrics.frechet_features(gray)
  local r = {fid = sg.metrics.fid(feats, ref)}
  r.kid, r.kid_std = sg.metrics.kid(feats, ref, {seed = opts.seed or 1,
    subset_size = math.min(1000, gray:size(1), ref:size(1))})
  r.is, r.is_std = sg.metrics.inception_score(gray, {splits = math.min(10, gray:size(1))})
  r.classes = M.class_counts(gray)
  return r
end

-- class_table(counts) -> {{class =, count =, percent =}...} and the largest share.
function M.class_table(counts)
  local n = 0
  for _, c in ipairs(counts) do n = n + c end
  local rows, maxp = {}, 0
  for i, c in ipairs(counts) do
    local p = n > 0 and 100 * c / n or 0
    rows[i] = {class = M.FMNIST_CLASSES[i] or tostring(i - 1), count = c, percent = p}
    if p > maxp then maxp = p end
  end
  return rows, maxp
end

local function esc(s)
  return (tostring(s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

-- bar_chart(path, labels, values, {title =, ylabel =}): a small SVG bar chart.
function M.bar_chart(path, labels, values, opts)
  opts = opts or {}
  local n = #values
  local W, H, left, bottom, top = 60 + 56 * n, 300, 50, 80, 30
  local vmax = 0
  for _, v in ipairs(values) do if v > vmax then vmax = v end end
  if vmax <= 0 then vmax = 1 end
  local ph = H - top - bottom
  local parts = {string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
    .. 'font-family="sans-serif" font-size="11">', W, H),
    string.format('<rect width="%d" height="%d" fill="white"/>', W, H)}
  if opts.title then
    parts[#parts + 1] = string.format('<text x="%d" y="18" text-anchor="middle" font-size="13">%s</text>',
      W // 2, esc(opts.title))
  end
  parts[#parts + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>',
    left, H - bottom, W - 10, H - bottom)
  for i, v in ipairs(values) do
    local x = left + (i - 1) * 56 + 8
    local h = ph * v / vmax
    parts[#parts + 1] = string.format('<rect x="%d" y="%.1f" width="40" height="%.1f" fill="#4477aa"/>',
      x, H - bottom - h, h)
    parts[#parts + 1] = string.format('<text x="%d" y="%.1f" text-anchor="middle">%s</text>',
      x + 20, H - bottom - h - 3, esc(opts.format and string.format(opts.format, v) or v))
    parts[#parts + 1] = string.format('<text x="%d" y="%d" text-anchor="end" transform="rotate(-40 %d %d)">%s</text>',
      x + 24, H - bottom + 14, x + 24, H - bottom + 14, esc(labels[i] or i))
  end
  parts[#parts + 1] = "</svg>\n"
  return require("sgen.util.file").write(path, table.concat(parts, "\n"), "bar_chart", 2)
end

-- open_log(out, fields, start_iter, iters): metrics.csv, appended to (and cut
-- after start_iter) when resuming; a final evaluation row (no loss_d) of
-- iteration `iters` from an interrupted finish is dropped.
function M.open_log(out, fields, start_iter, iters)
  return util.log.new({csv = out .. "/metrics.csv",
    append = start_iter > 0 and util.log.truncate_csv(out .. "/metrics.csv", start_iter, function(line, n)
      return not (n == iters and line:match("^[^,]*,,"))
    end),
    fields = fields})
end

-- finish(out, final, opts) -> classes, max_class_percent, best: the outputs
-- every GAN experiment writes at its end from the final evaluation `final`
-- (run.evaluate's table) and its metrics.csv: classes.svg (the generated
-- classes by the Fashion-MNIST classifier), the best FID over the whole
-- metrics.csv ({fid =, iter =}, so it survives a resume), losses.svg and
-- fid.svg. opts: iters, fid_samples, variant (for the chart's title), title
-- (of losses.svg), fid_title.
function M.finish(out, final, opts)
  local classes, maxp = M.class_table(final.classes)
  local labels, counts = {}, {}
  for i, c in ipairs(classes) do labels[i], counts[i] = c.class, c.count end
  M.bar_chart(out .. "/classes.svg", labels, counts, {title = string.format(
    "generated classes (%d samples, Fashion-MNIST classifier), %s", opts.fid_samples, opts.variant)})
  local best = {fid = final.fid, iter = opts.iters}
  for _, row in ipairs(util.log.read_csv(out .. "/metrics.csv").rows) do
    if row.fid and row.fid < best.fid then best = {fid = row.fid, iter = row.iter} end
  end
  sg.plot.from_csv(out .. "/losses.svg", out .. "/metrics.csv", {x = "iter", y = {"loss_d", "loss_g"},
    title = opts.title})
  sg.plot.from_csv(out .. "/fid.svg", out .. "/metrics.csv", {x = "iter", y = {"fid"},
    title = opts.fid_title or "Fréchet distance (Fashion-MNIST classifier features)"})
  return classes, maxp, best
end

return M
