# services.trellis.settings as the seeds' operators would write it: secrets are
# never inline, each is a systemd credential (services.trellis.secrets, e.g. a
# sops-nix path) that the config names with `<key>_credential`.
{
  server = {
    host = "127.0.0.1";
    port = 29316;
    token_secret_credential = "token_secret";
  };
  admin = {
    username = "admin";
    # trellis hash-password
    password_hash = "$argon2id$v=19$m=19456,t=2,p=1$I6b8fcftfLcMt4dUvnc7HQ$ckElIxX+Pe2DRgvexIp054JGr7sr15Txa4SEcrSTsXc";
  };
  homeservers.main = {
    url = "http://127.0.0.1:6167";
    shared_secret_credential = "homeserver_shared_secret";
  };
  crypto.pickle_key_credential = "pickle_key";
  public = {
    host = "127.0.0.1";
    port = 29317;
    base_url = "https://matrix.example.org";
  };
  logging.level = "info";
}
