-- sg.metrics GAN metrics: frechet_features / fid / kid / inception_score
-- against the numpy reference of tools/make_fid_reference.py, on real
-- Fashion-MNIST (sg.data.fashion_mnist32) with the committed feature network
-- data/fmnist_features.safetensors, and experiments/fid.lua end to end.
-- Reminder: this FID is the Fréchet distance in sgen's own classifier's
-- 128-d feature space, not Inception-FID.
local sg = require "sgen"
local H = require "spec.helpers"
local json = require "dkjson"

local function R() return H.fixture("fid_ref") end
local function ref(name) return R()[name]:item() end

local function close_rel(want, got, rel, what)
  local tol = rel * math.max(math.abs(want), 1e-300)
  assert(math.abs(want - got) <= tol,
    string.format("%s: expected %.12g, got %.12g (|diff| %.3g > %.3g)", what or "value", want, got,
      math.abs(want - got), tol))
end

local function msg(f, ...)
  return tostring(H.error_of(f, ...))
end

local function has(text, part)
  assert(text:find(part, 1, true), string.format("expected %q in the error %q", part, text))
end

describe("sg.metrics GAN metrics: the API", function()
  it("is part of sg.metrics next to psnr and ssim", function()
    for _, name in ipairs({"frechet_features", "fid", "kid", "inception_score", "feature_network",
                           "frechet_distance", "psnr", "ssim"}) do
      assert.is_function(sg.metrics[name], name)
    end
  end)
end)

describe("sg.metrics.fid", function()
  it("matches the numpy reference (200 x 16, Gaussian-ish) to 1e-4 relative", function()
    local got = sg.metrics.fid(R().a, R().b)
    assert.is_number(got)
    close_rel(ref("fid"), got, 1e-8, "fid(a, b)") -- float64 on both sides; the issue asks 1e-4
  end)

  it("is symmetric and works on float32 features", function()
    close_rel(ref("fid"), sg.metrics.fid(R().b, R().a), 1e-8, "fid(b, a)")
    close_rel(ref("fid"), sg.metrics.fid(R().a:float(), R().b:float()), 1e-4, "float32")
  end)

  it("is 0 for a set against itself (relative to the trace of its covariance)", function()
    local a = R().a
    local xc = a - a:mean(1)
    local tr = (xc * xc):sum():item() / (a:size(1) - 1)
    local d = sg.metrics.fid(a, a)
    assert(math.abs(d) < 1e-6 * tr, "fid(a, a) = " .. d .. ", trace " .. tr)
  end)

  it("is |mu_a - mu_b|^2 for a shifted copy", function()
    local a = R().a
    local shift = sg.arange(1, 17, {dtype = "float64"}) * 0.1
    local want = (shift * shift):sum():item()
    close_rel(want, sg.metrics.fid(a, a + shift), 1e-6, "shifted copy")
  end)

  it("equals frechet_distance of the means and covariances", function()
    local function st(x)
      local xc = x - x:mean(1)
      return x:mean(1), xc:t():matmul(xc) / (x:size(1) - 1)
    end
    local ma, sa = st(R().a)
    local mb, sb = st(R().b)
    close_rel(ref("fid"), sg.metrics.frechet_distance(ma, sa, mb, sb), 1e-8, "frechet_distance")
    has(msg(sg.metrics.frechet_distance, ma, sa, mb, sb:narrow(1, 1, 4)),
      "sigma_b is 4x16, expected 16x16")
  end)

  it("checks its arguments", function()
    local a = R().a
    has(msg(sg.metrics.fid, a, sg.zeros(200)), "feats_b has 1 dims (200), expected 2")
    has(msg(sg.metrics.fid, a:reshape(200, 4, 4), a), "feats_a has 3 dims")
    has(msg(sg.metrics.fid, a, a:narrow(2, 1, 8)), "feats_a has 16 features per sample and feats_b 8")
    has(msg(sg.metrics.fid, a:narrow(1, 1, 1), a), "feats_a has 1 sample(s) (1x16), need at least 2")
    local bad = a:clone()
    bad[3]:fill_(0 / 0)
    has(msg(sg.metrics.fid, a, bad), "feats_b contains NaN or inf")
    has(msg(sg.metrics.fid, a, {}), "argument 2 (feats_b) expected a tensor, got table")
    has(msg(sg.metrics.fid, a:long(), a), "feats_a has dtype int64")
  end)
end)

describe("sg.metrics.kid", function()
  it("matches the numpy reference with one subset of all rows", function()
    local m, s = sg.metrics.kid(R().a, R().b, {subsets = 1, subset_size = 200})
    close_rel(ref("kid"), m, 1e-8, "kid")
    assert.equal(0, s)
    local m2 = sg.metrics.kid(R().a, R().b, {subsets = 1, subset_size = 200, gamma = 0.5, coef = 0,
      degree = 2})
    close_rel(ref("kid_g2c0d2"), m2, 1e-8, "kid gamma=0.5 coef=0 degree=2")
  end)

  it("is seeded, averages over subsets and leaves the global RNG alone", function()
    local a, b = R().a, R().b
    sg.manual_seed(11)
    local r1 = sg.rand(4):totable()
    sg.manual_seed(11)
    local m1, s1 = sg.metrics.kid(a, b, {subsets = 8, subset_size = 50, seed = 3})
    local r2 = sg.rand(4):totable()
    assert.same(r1, r2)
    local m2, s2 = sg.metrics.kid(a, b, {subsets = 8, subset_size = 50, seed = 3})
    assert.equal(m1, m2)
    assert.equal(s1, s2)
    local m3 = sg.metrics.kid(a, b, {subsets = 8, subset_size = 50, seed = 4})
    assert.not_equal(m1, m3)
    assert.is_true(s1 > 0)
    -- subsets of 50 estimate the same quantity as all 200 rows
    assert(math.abs(m1 - ref("kid")) < 4 * s1 + 0.5 * ref("kid"), "kid on subsets " .. m1)
    -- a set against itself (different subsets): near 0 next to a vs b
    local m0 = sg.metrics.kid(a, a, {subsets = 8, subset_size = 50, seed = 3})
    assert(math.abs(m0) < 0.1 * ref("kid"), "kid(a, a) " .. m0)
  end)

  it("checks its arguments", function()
    local a = R().a
    has(msg(sg.metrics.kid, a, a), "subset_size 1000 is larger than the feature sets (200 and 200 samples)")
    has(msg(sg.metrics.kid, a, a, {subsets = 0}), "option 'subsets' must be at least 1")
    has(msg(sg.metrics.kid, a, a, {subset = 2}), "unknown option 'subset'")
    has(msg(sg.metrics.kid, a, a:narrow(2, 1, 3), {subset_size = 10}), "feats_b 3")
  end)
end)

describe("sg.metrics.inception_score", function()
  it("matches the numpy reference on given probabilities", function()
    local m, s = sg.metrics.inception_score(R().probs, {splits = 5})
    close_rel(ref("is_mean"), m, 1e-10, "IS mean")
    close_rel(ref("is_std"), s, 1e-8, "IS std")
  end)

  it("is 1 for identical rows and the number of classes for confident balanced ones", function()
    local p = sg.full({20, 10}, 0.1, {dtype = "float64"})
    close_rel(1, sg.metrics.inception_score(p, {splits = 2}), 1e-12, "uniform rows")
    local eye = sg.eye(10, {dtype = "float64"})
    local m, s = sg.metrics.inception_score(sg.cat({eye, eye}, 1), {splits = 2})
    close_rel(10, m, 1e-9, "one-hot balanced")
    assert(s < 1e-9)
  end)

  it("checks its arguments", function()
    local p = R().probs
    has(msg(sg.metrics.inception_score, p * 2), "rows of probs must sum to 1")
    has(msg(sg.metrics.inception_score, p:narrow(1, 1, 4)), "4 samples are fewer than the 10 splits")
    has(msg(sg.metrics.inception_score, sg.zeros(3, 32, 32)), "expected Nx1x32x32 images or NxK")
  end)
end)

describe("sg.metrics on Fashion-MNIST with the committed feature network", function()
  local N = 2000
  local test, ft, fr, fnoise, xtest, noise

  setup(function()
    test = sg.data.fashion_mnist32(nil, "test")
    local train = sg.data.fashion_mnist32(nil, "train")
    xtest = test:batch(sg.arange(1, N + 1, {dtype = "int64"}))
    local xtrain = train:batch(sg.arange(1, N + 1, {dtype = "int64"}))
    local state = sg.get_rng_state()
    sg.manual_seed(5)
    noise = sg.rand(N, 1, 32, 32) * 2 - 1
    sg.set_rng_state(state)
    ft = sg.metrics.frechet_features(xtest)
    fr = sg.metrics.frechet_features(xtrain)
    fnoise = sg.metrics.frechet_features(noise)
  end)

  it("has weights with the documented metadata", function()
    local model, meta = sg.metrics.feature_network()
    assert.equal(model, (sg.metrics.feature_network())) -- cached
    assert.equal("32x32, [-1,1], Fashion-MNIST padded by 2", meta.input)
    assert.equal("1", meta.seed)
    assert.is_truthy(meta.command:find("--size=32", 1, true))
    assert.is_truthy(meta.commit:match("^%x+"))
    assert.is_true(tonumber(meta.test_acc) >= 0.91, "test_acc " .. meta.test_acc)
  end)

  it("classifies 2,000 test images as well as its metadata says (> 90 %)", function()
    local model, meta = sg.metrics.feature_network()
    local y = test.labels:narrow(1, 1, N)
    local correct = sg.no_grad(function() return model(xtest):argmax(2):eq(y):sum():item() end)
    local acc = correct / N
    assert(acc > 0.90, "accuracy " .. acc)
    assert(math.abs(acc - tonumber(meta.test_acc)) < 0.03,
      string.format("accuracy on 2,000 test images %.4f vs %s in the metadata", acc, meta.test_acc))
  end)

  it("gives N x 128 float64 features without a graph, independent of the batch size", function()
    assert.same({N, 128}, ft:shape())
    assert.equal("float64", ft:dtype())
    local x = xtest:narrow(1, 1, 13):clone():requires_grad_()
    local f = sg.metrics.frechet_features(x, {batch_size = 5})
    assert.is_false(f:needs_grad())
    H.assert_close(f, ft:narrow(1, 1, 13), 1e-4, "batch_size 5 vs 500")
  end)

  it("rejects images of the wrong layout", function()
    has(msg(sg.metrics.frechet_features, sg.zeros(2, 1, 28, 28)), "images are 2x1x28x28, expected Nx1x32x32")
    has(msg(sg.metrics.frechet_features, xtest:narrow(1, 1, 2) * 127.5 + 127.5),
      "expected [-1,1] (map [0,1] images with x * 2 - 1)")
    local bad = xtest:narrow(1, 1, 2):clone()
    bad[1]:fill_(0 / 0)
    has(msg(sg.metrics.frechet_features, bad), "images contain NaN or inf")
    has(msg(sg.metrics.frechet_features, xtest:narrow(1, 1, 2), {weights = "/nonexistent.safetensors"}),
      "not found")
  end)

  it("FID: 0 for a set against itself, small train vs test, large test vs noise", function()
    local xc = ft - ft:mean(1)
    local tr = (xc * xc):sum():item() / (N - 1)
    local same = sg.metrics.fid(ft, ft)
    local tt = sg.metrics.fid(fr, ft)
    local tn = sg.metrics.fid(ft, fnoise)
    print(string.format("\n  FID test/test %.3g, train/test %.4f, test/noise %.2f (2,000 each; trace %.2f)",
      same, tt, tn, tr))
    assert(math.abs(same) < 1e-6 * tr, "fid(x, x) " .. same)
    assert(tt > 0 and tt < 0.05 * tr, "train vs test " .. tt)
    assert(tn > 50 * tt, string.format("test vs noise %g is not much larger than train vs test %g", tn, tt))
  end)

  it("KID: near 0 train vs test, large test vs noise", function()
    local kt, kts = sg.metrics.kid(fr, ft, {subsets = 10, subset_size = 500})
    local kn = sg.metrics.kid(ft, fnoise, {subsets = 10, subset_size = 500})
    assert(math.abs(kt) < 3 * kts + 1e-3 * kn, "train vs test " .. kt .. " +- " .. kts)
    assert(kn > 100 * math.abs(kt), "test vs noise " .. kn)
  end)

  it("IS: high for real test images, low for noise", function()
    local real, real_std = sg.metrics.inception_score(xtest)
    local fake = sg.metrics.inception_score(noise)
    print(string.format("\n  IS test %.3f +- %.3f, noise %.3f", real, real_std, fake))
    assert(real > 7, "IS of real images " .. real)
    assert(fake < 3, "IS of noise " .. fake)
  end)
end)

describe("experiments/fid.lua", function()
  local dir = H.tmpname("_fid_pngs")
  local out = H.tmpname("_fid_out")

  teardown(function() os.execute("rm -rf '" .. dir .. "' '" .. out .. "'") end)

  it("scores a folder of PNGs against the test set and writes summary.json", function()
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local test = sg.data.fashion_mnist(nil, "test")
    -- 28x28 Fashion-MNIST images (the experiment pads them to 32x32) from the end of the test set
    for i = 1, 40 do
      local x = test:get(10000 - i + 1)
      sg.image.write(string.format("%s/img_%03d.png", dir, i), x)
    end
    local bin = H.BIN or "build/bin/sgen"
    local cmd = string.format("SGEN_PROGRESS=off %s run %s/experiments/fid.lua --quick --real=fmnist-test "
      .. "--fake='%s' --out='%s' 2>&1", bin, H.SRC, dir, out)
    local p = assert(io.popen(cmd))
    local text = p:read("a")
    local ok = p:close()
    assert(ok, "experiments/fid.lua failed:\n" .. text)
    assert.is_truthy(text:find("not Inception", 1, true), text)
    assert.is_truthy(text:find("padded", 1, true), text)
    local f = assert(io.open(out .. "/summary.json"))
    local s = json.decode(f:read("a"))
    f:close()
    assert.equal(40, s.n_fake)
    assert.is_number(s.fid)
    assert.is_number(s.kid_mean)
    assert.is_number(s.kid_std)
    assert.is_number(s.is_mean)
    assert.is_true(s.fid > 0)
    assert.is_true(s.is_mean > 1)
  end)
end)
