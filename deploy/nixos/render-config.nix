# The Trellis config file (YAML; JSON is YAML) from the module's options: the
# freeform `settings`, `data_dir` defaulting to the StateDirectory, and the
# declarative `instances` merged in. module.nix writes it with builtins.toJSON;
# test/unit/deploy-nixos.test.ts renders the example through this same file
# and has `trellis start --check-config` load the result.
{ settings, instances ? { } }:
settings
// {
  data_dir = settings.data_dir or "/var/lib/trellis";
  instances = (settings.instances or { }) // instances;
}
