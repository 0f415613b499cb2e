-- sg.train: pieces of training loops shared by the experiments.
--   sg.train.Checkpointer(dir, {every = N, keep = 2})   checkpoints and exact resume
--   sg.train.save_checkpoint(path, step, state) / load_checkpoint(path, state)
--   sg.train.find_checkpoint(path) -> the newest checkpoint file under a run or checkpoint dir
--   sg.train.resume_options(opts, given, dir)   a resumed run's options from its config.json
-- See sgen.train.checkpoint and docs/lua-api.md (sg.train).
local checkpoint = require "sgen.train.checkpoint"

return {
  checkpoint = checkpoint,
  Checkpointer = checkpoint.Checkpointer,
  save_checkpoint = checkpoint.save,
  load_checkpoint = checkpoint.load,
  find_checkpoint = checkpoint.find,
  resume_options = require("sgen.train.options").resume_options,
}
