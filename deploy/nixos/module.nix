# NixOS module for Trellis: services.trellis. Import it from your flake or
# configuration.nix (see README.md beside it for a sops-nix example).
{ config, lib, pkgs, ... }:
let
  cfg = config.services.trellis;
  configFile = pkgs.writeText "trellis.yaml" (builtins.toJSON (import ./render-config.nix {
    inherit (cfg) settings instances;
  }));
in
{
  options.services.trellis = {
    enable = lib.mkEnableOption "Trellis, the Matrix bot platform";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The unpacked Trellis release bundle (npm run release): a folder with bin/trellis.";
    };

    settings = lib.mkOption {
      type = lib.types.attrsOf lib.types.anything;
      default = { };
      description = "Trellis's config file as an attribute set (README, Configuration). Secrets go in `secrets`, named here as `<key>_credential`.";
    };

    instances = lib.mkOption {
      type = lib.types.attrsOf lib.types.anything;
      default = { };
      description = "Declarative instances (the config file's `instances`), merged into settings.";
    };

    secrets = lib.mkOption {
      type = lib.types.attrsOf lib.types.path;
      default = { };
      example = lib.literalExpression ''{ token_secret = config.sops.secrets."trellis/token_secret".path; }'';
      description = "Credential name → file (e.g. from sops-nix), passed with LoadCredential; the settings name them with `<key>_credential`.";
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open the public listener's port (settings.public.port) for webhooks and plugin web apps.";
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = lib.mkIf (cfg.openFirewall && cfg.settings ? public) [ cfg.settings.public.port ];

    systemd.services.trellis = {
      description = "Trellis Matrix bot platform";
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      wantedBy = [ "multi-user.target" ];
      restartTriggers = [ configFile ];
      environment.TRELLIS_CONFIG = "${configFile}";
      # The same service as deploy/systemd/trellis.service (its comments say why each line is there).
      serviceConfig = {
        Type = "notify";
        NotifyAccess = "all";
        WatchdogSec = "30s";
        TimeoutStartSec = "120s";
        TimeoutStopSec = "20s";
        Restart = "on-failure";
        RestartSec = "5s";
        ExecStartPre = "${cfg.package}/bin/trellis start --check-config";
        ExecStart = "${cfg.package}/bin/trellis start";
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        DynamicUser = true;
        StateDirectory = "trellis";
        StateDirectoryMode = "0700";
        WorkingDirectory = "/var/lib/trellis";
        LoadCredential = lib.mapAttrsToList (name: path: "${name}:${path}") cfg.secrets;
        UMask = "0077";
        MemoryMax = "1G";
        TasksMax = 512;
        # No MemoryDenyWriteExecute: V8's JIT and WebAssembly need writable executable memory.
        NoNewPrivileges = true;
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        PrivateUsers = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        DevicePolicy = "closed";
        ProtectClock = true;
        ProtectHostname = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectProc = "invisible";
        ProcSubset = "pid";
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        RemoveIPC = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" "~@privileged @resources" ];
        SystemCallErrorNumber = "EPERM";
      };
      # systemd-notify (Type=notify) and the shell lines of bin/trellis.
      path = [ pkgs.systemd pkgs.coreutils ];
    };
  };
}
