-- sgen.util.check (argument checks) and sgen.util.class (the class helper).
local sg = require "sgen"
local check = require "sgen.util.check"
local class = require "sgen.util.class"
local H = require "spec.helpers"

local error_of = H.error_of

-- The line of the caller of here(): where a check should point.
local function here() return debug.getinfo(2, "l").currentline end

-- "spec/check_spec.lua:<line>: " (the chunk name may carry a directory).
local function at(line)
  return "^[^:]*check_spec%.lua:" .. line .. ": "
end

local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

describe("sgen.util.check.is_tensor", function()
  it("is the C type test, also as sg.is_tensor", function()
    assert.equal(sg.core.is_tensor, check.is_tensor)
    assert.equal(sg.core.is_tensor, sg.is_tensor)
    assert.equal("function", type(sg.core.is_tensor))
    -- a C function, not a Lua metatable comparison
    assert.equal("C", debug.getinfo(sg.core.is_tensor, "S").what)
  end)

  it("says true for tensors (freed ones too) and false for anything else", function()
    local x = sg.zeros(2)
    assert.is_true(check.is_tensor(x))
    assert.is_true(check.is_tensor(sg.tensor(3)))
    x:free()
    assert.is_true(check.is_tensor(x))
    -- a table with the tensor metatable is not a tensor either
    for i, v in ipairs({{}, 1, "tensor", true, print, io.stdout, setmetatable({}, getmetatable(sg.zeros(1)))}) do
      assert.is_false(check.is_tensor(v), "value " .. i)
    end
    assert.is_false(check.is_tensor(nil))
    assert.is_false(check.is_tensor())
  end)

  it("names types for messages", function()
    assert.equal("tensor", check.typename(sg.zeros(1)))
    assert.equal("table", check.typename({}))
    assert.equal("scalar", check.shape_str(sg.tensor(1)))
    assert.equal("2x3", check.shape_str(sg.zeros(2, 3)))
  end)
end)

describe("sgen.util.check.options", function()
  it("returns {} for nil and the table itself when every key is allowed", function()
    assert.same({}, check.options(nil, {"a"}, "f"))
    local o = {a = 1, b = 2}
    assert.equal(o, check.options(o, {"a", "b", "c"}, "f"))
  end)

  it("names the unknown key and lists the allowed ones in their order", function()
    assert.matches("f: unknown option 'strid' %(expected stride, padding, bias%)$",
      error_of(function() check.options({strid = 1}, {"stride", "padding", "bias"}, "f") end))
  end)

  it("lists a set's names sorted and reports the first unknown key in sorted order", function()
    for _ = 1, 5 do -- not pairs() order: the same key every time
      local e = error_of(function()
        check.options({zz = 1, yy = 2, b = 3, mm = 4}, {b = true, a = true}, "g")
      end)
      assert.matches("g: unknown option 'mm' %(expected a, b%)$", e)
    end
  end)

  it("words non-string keys, `where`, empty lists and hidden keys", function()
    assert.matches("h: unknown option '%(number key 1%)' %(expected a%)$",
      error_of(function() check.options({5}, {"a"}, "h") end))
    assert.matches("h: unknown option 'x' in params%[2%] %(expected a%)$",
      error_of(function() check.options({x = 1}, {"a"}, "h", nil, " in params[2]") end))
    assert.matches("h: unknown option 'x' %(expected no options%)$",
      error_of(function() check.options({x = 1}, {}, "h") end))
    -- initial_lr is accepted without being listed
    local ok = {"params", "lr", initial_lr = true}
    assert.same({initial_lr = 1}, check.options({initial_lr = 1}, ok, "h"))
    assert.matches("h: unknown option 'lrr' %(expected params, lr%)$",
      error_of(function() check.options({lrr = 1}, ok, "h") end))
  end)

  it("refuses options that are not a table", function()
    assert.matches("h: expected an options table, got number$",
      error_of(function() check.options(3, {"a"}, "h") end))
    assert.matches("h: expected an options table, got tensor$",
      error_of(function() check.options(sg.zeros(1), {"a"}, "h") end))
  end)
end)

describe("error levels", function()
  it("check.options raises at the caller's line by default", function()
    local line
    local e = error_of(function() line = here(); check.options({x = 1}, {"a"}, "f") end)
    assert.matches(at(line) .. "f: unknown option 'x' %(expected a%)$", e)
  end)

  it("a numeric level counts from the caller; 0 gives no position", function()
    assert.equal("f: unknown option 'x' (expected a)",
      error_of(function() check.options({x = 1}, {"a"}, "f", 0) end))
    local inner_line
    local function helper(level)
      inner_line = here(); check.options({x = 1}, {"a"}, "f", level)
    end
    local e1 = error_of(function() helper(1) end)
    assert.matches(at(inner_line), e1)
    local outer_line
    local e2 = error_of(function() outer_line = here(); helper(2) end)
    assert.matches(at(outer_line), e2)
  end)

  it("check.error skips every frame of the library", function()
    local line
    local e = error_of(function() line = here(); sg.util.json.encode({1}, {pretty = true}) end)
    assert.matches(at(line) .. escape("sgen.util.json.encode: unknown option 'pretty' "
      .. "(expected indent, keyorder)") .. "$", e)
  end)

  it("points at the user's line through constructors and methods", function()
    local ds = sg.data.TensorDataset(sg.zeros(4, 2))
    local line
    local e = error_of(function() line = here(); sg.data.DataLoader(ds, {batchsize = 2}) end)
    assert.matches(at(line) .. "sgen%.data%.DataLoader: unknown option 'batchsize'", e)
    local loader = sg.data.DataLoader(ds, {batch_size = 2})
    e = error_of(function() line = here(); loader:set_epoch(-1) end)
    assert.matches(at(line) .. "sgen%.data%.DataLoader: set_epoch: argument 1", e)
    local x = sg.zeros(2)
    e = error_of(function() line = here(); x:add_(1, {beta = 2}) end)
    assert.matches(at(line) .. "sgen%.add_: unknown option 'beta' %(expected alpha%)$", e)
  end)
end)

describe("sgen.util.class", function()
  local Base = class("test.Base")
  function Base:init(x) self.x = x end
  function Base:get() return self.x end
  function Base:__len() return 7 end
  local Sub = class("test.Sub", Base)
  function Sub:init(x, y)
    Base.init(self, x)
    self.y = y
  end

  it("constructs with Class(...) and Class.new(...), calling init", function()
    local b = Base(3)
    assert.equal(3, b:get())
    assert.equal(Base, getmetatable(b))
    local s = Sub.new(1, 2)
    assert.equal(1, s:get())
    assert.equal(2, s.y)
    assert.equal(Sub, getmetatable(Sub(1, 2)))
  end)

  it("inherits methods through __index and metamethods by copy", function()
    assert.equal(Base, Sub.super)
    assert.equal(7, #Sub(1, 2))
    assert.equal("test.Sub", Sub.__name)
  end)

  it("tells instances of a class and of its subclasses", function()
    local s = Sub(1, 2)
    assert.is_true(class.is_instance(s, Sub))
    assert.is_true(class.is_instance(s, Base))
    assert.is_false(class.is_instance(Base(1), Sub))
    assert.is_false(class.is_instance({}, Base))
    assert.is_false(class.is_instance(3, Base))
  end)

  it("prints classes and, by default, instances with their name", function()
    assert.equal("test.Base (class)", tostring(Base))
    assert.matches("^test%.Sub: 0x%x+$", tostring(Sub(1, 2)))
  end)

  it("builds the raw table with __alloc when the class has one", function()
    local C = class("test.Alloc")
    function C.__alloc() return {made = true} end
    assert.is_true(C().made)
  end)

  it("refuses a name that is not a string and a parent that is not a class", function()
    assert.matches("argument 1 %(name%) expected a string, got number",
      error_of(function() class(3) end))
    assert.matches("argument 2 %(parent%) expected a class, got table",
      error_of(function() class("x", {}) end))
  end)

  it("makes Module, the optimizers, the schedulers and DataLoader", function()
    local net = sg.nn.Linear(2, 3)
    assert.is_true(class.is_instance(net, sg.nn.Module))
    local Net = sg.nn.Module:extend("Net")
    assert.equal("sgen.nn.Net (class)", tostring(Net))
    assert.equal(sg.nn.Module, Net.super)
    local opt = sg.optim.Adam(net:parameters())
    assert.is_true(class.is_instance(opt, sg.optim.Optimizer))
    assert.equal("sgen.optim.Adam", getmetatable(opt).__name)
    local sched = sg.optim.lr_scheduler.StepLR(opt, 2)
    assert.is_true(class.is_instance(sched, sg.optim.lr_scheduler.LRScheduler))
    assert.equal("sgen.optim.lr_scheduler.StepLR (class)", tostring(sg.optim.lr_scheduler.StepLR))
    local loader = sg.data.DataLoader(sg.data.TensorDataset(sg.zeros(4, 2)), {batch_size = 2})
    assert.is_true(class.is_instance(loader, sg.data.DataLoader))
    assert.equal(2, #loader)
  end)

  it("refuses to instantiate the base classes Optimizer and LRScheduler", function()
    assert.matches("sgen.optim.Optimizer: a base class",
      error_of(function() sg.optim.Optimizer({sg.zeros(1):requires_grad_()}) end), 1, true)
    local opt = sg.optim.SGD({sg.zeros(1):requires_grad_()}, {lr = 0.1})
    assert.matches("sgen.optim.lr_scheduler.LRScheduler: a base class",
      error_of(function() sg.optim.lr_scheduler.LRScheduler(opt) end), 1, true)
  end)
end)
