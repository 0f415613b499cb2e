-- Anomaly mode (sg.autograd.set_detect_anomaly, sgen run --detect-anomaly):
-- off by default; on, the first NaN/Inf a recorded op or a backward formula
-- produces is an error naming the op, its input shapes and the script line
-- that created it.
local sg = require "sgen"
local H = require "spec.helpers"
local nn = sg.nn

describe("anomaly mode", function()
  after_each(function() sg.autograd.set_detect_anomaly(false) end)

  it("is off by default and lets NaN through", function()
    assert.is_false(sg.autograd.is_anomaly_enabled())
    local x = sg.tensor({-1.0, 1}):requires_grad_()
    local y = x:log():sum()
    y:backward()
    assert.is_true(y:item() ~= y:item())
  end)

  it("names the forward op that made a NaN, its input shapes and the line", function()
    assert.is_false(sg.autograd.set_detect_anomaly(true))
    assert.is_true(sg.autograd.is_anomaly_enabled())
    local x = sg.ones(2, 3):requires_grad_()
    local h = x * 2 -- finite: no error
    local err = H.error_of(function()
      return (h - 4):sqrt() -- line of the offending op
    end)
    assert.matches("sgen.detect_anomaly: sqrt produced 6 NaN in its output 1 %(float32 2x3%) "
                   .. "in the forward pass; inputs %(float32 2x3%); created at:", err)
    assert.matches("anomaly_spec.lua:26:", err)
  end)

  it("names the op whose backward made a NaN/Inf gradient", function()
    sg.autograd.set_detect_anomaly(true)
    local x = sg.tensor({0, 1, 4}, {dtype = "float64"}):requires_grad_()
    local loss = (x * 3):sqrt():sum() -- sqrt(0) is fine, its gradient is not
    local err = H.error_of(function() loss:backward() end)
    assert.matches("sgen.detect_anomaly: the backward of sqrt returned 1 Inf in the gradient of "
                   .. "its input 1 %(float64 3%); the op's inputs %(float64 3%); created at:", err)
    assert.matches("anomaly_spec.lua:36:", err)
    assert.is_nil(x.grad)
    local err2 = H.error_of(function() sg.grad(loss, x) end)
    assert.matches("backward of sqrt", err2)
  end)

  it("changes nothing in a clean training step", function()
    local function step(on)
      sg.manual_seed(3)
      local m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
      local opt = sg.optim.Adam(m:parameters(), {lr = 1e-2})
      local x = sg.randn(16, 4)
      sg.autograd.set_detect_anomaly(on)
      local losses = {}
      for i = 1, 3 do
        opt:zero_grad()
        local loss = (m(x) - 1):square():mean()
        loss:backward()
        opt:step()
        losses[i] = loss:item()
      end
      sg.autograd.set_detect_anomaly(false)
      return losses
    end
    assert.same(step(false), step(true))
  end)

  it("detect_anomaly(fn) turns it on for fn and restores it, also on error", function()
    local seen = sg.autograd.detect_anomaly(function(a, b)
      return sg.autograd.is_anomaly_enabled(), a + b
    end, 1, 2)
    assert.is_true(seen)
    assert.is_false(sg.autograd.is_anomaly_enabled())
    local err = H.error_of(sg.autograd.detect_anomaly, function()
      return sg.tensor({-1.0}):requires_grad_():log()
    end)
    assert.matches("log produced 1 NaN", err)
    assert.is_false(sg.autograd.is_anomaly_enabled())
    assert.matches("argument 1 %(fn%) expected a function, got number",
                   H.error_of(sg.autograd.detect_anomaly, 3))
    assert.matches("set_detect_anomaly: argument 1 %(mode%) expected a boolean",
                   H.error_of(sg.autograd.set_detect_anomaly, "yes"))
  end)

  it("raises each anomaly once, and stays on", function()
    sg.autograd.set_detect_anomaly(true)
    local x = sg.tensor({math.huge, 2}):requires_grad_()
    assert.matches("max produced 1 Inf in its output 1 %(float32 scalar%)",
                   H.error_of(function() return x:max() end))
    local z = sg.tensor({7.0, 2}):requires_grad_()
    local y = (z - 1):clamp(0, 5) -- finite: no error left over
    assert.same({5, 1}, y:totable())
    assert.is_true(sg.autograd.is_anomaly_enabled())
  end)

  it("sgen run --detect-anomaly turns it on for the script", function()
    if not H.BIN then return pending("SGEN_BIN not set") end
    local path = H.tmpname(".lua")
    H.write_file(path, "print(sgen.autograd.is_anomaly_enabled())\n"
                 .. "local x = sgen.tensor({-2.0, 1}):requires_grad_()\n"
                 .. "local y = x:log()\nprint('not reached')\n")
    local out, err, code = H.sgen({"run", "--detect-anomaly", path})
    assert.equal(1, code)
    assert.equal("true\n", out)
    assert.matches("detect_anomaly: log produced 1 NaN in its output 1 %(float32 2%)", err)
    assert.matches("%.lua:3: in main chunk", err)
    out, err, code = H.sgen({"run", path})
    assert.equal(0, code, err)
    assert.equal("false\nnot reached\n", out)
    os.remove(path)
  end)
end)
