//! New claims on real block-device filesystems (tests/live.sh): a fresh ext4
//! volume's root holds `lost+found`, and initdb refuses a data directory
//! that is not empty. The claim here is an ext4 image, loop-mounted on the
//! node and served as a hostPath volume; the app is busybox doing what
//! initdb checks (the postgres image cannot be pulled here), rendered from a
//! `postgres:16` Deployment so that the catalog decides as for the real one.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::cluster::{kubeconfig, Ns};

/// An ext4 filesystem in a file, mounted while this lives.
struct Ext4 {
    dir: PathBuf,
    image: PathBuf,
}

impl Ext4 {
    fn new(tag: &str) -> Option<Ext4> {
        let image = PathBuf::from(format!("/tmp/kp-ext4-{tag}.img"));
        let dir = PathBuf::from(format!("/tmp/kp-ext4-{tag}"));
        let run = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        let ok = run(Command::new("truncate").arg("-s").arg("64M").arg(&image))
            && run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))
            && std::fs::create_dir_all(&dir).is_ok()
            && run(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&dir));
        if !ok {
            eprintln!("SKIPPED: cannot loop-mount an ext4 image here (needs root and loop devices)");
            return None;
        }
        Some(Ext4 { dir, image })
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

const POSTGRES: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pg
spec:
  selector:
    matchLabels: {app: pg}
  template:
    metadata:
      labels: {app: pg}
    spec:
      containers:
        - name: postgres
          image: postgres:16
";

/// What initdb checks before it writes: an empty (or missing) PGDATA.
const INITDB: &str = r#"
          command: [sh, -c]
          args:
            - |
              d=${PGDATA:-/var/lib/postgresql/data}
              if [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && [ ! -e "$d/PG_VERSION" ]; then
                echo "initdb: directory \"$d\" exists but is not empty"; exit 1
              fi
              mkdir -p "$d" && [ -e "$d/PG_VERSION" ] || echo 16 > "$d/PG_VERSION"
              exec sleep 100000"#;

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn a_new_claim_on_ext4_gives_postgres_an_empty_data_directory() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "ext4");
    let Some(fs) = Ext4::new(&ns.name) else { return };
    assert!(fs.dir.join("lost+found").is_dir(), "a fresh ext4 root holds lost+found");
    let claim = "var-lib-postgresql-data-pg-0";
    let pv = format!(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: kp-local}}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: Immediate\n---\n\
         apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {ns}-{claim}, labels: {{kp-test-ns: {ns}}}}}\n\
         spec: {{capacity: {{storage: 10Gi}}, accessModes: [ReadWriteOnce], storageClassName: kp-local, \
         persistentVolumeReclaimPolicy: Retain, claimRef: {{namespace: {ns}, name: {claim}}}, hostPath: {{path: {dir}}}}}\n",
        ns = ns.name,
        dir = fs.dir.display()
    );
    let (code, _, err) = ns.kubectl_raw(&["apply", "-f", "-"], Some(&pv));
    assert_eq!(code, 0, "{err}");
    // No flags: the catalog knows postgres:16 and points PGDATA into the claim.
    let (code, out, err) = common::run(&["--storage-class", "kp-local"], POSTGRES.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("value: /var/lib/postgresql/data/pgdata"), "{out}");
    let app = out
        .replace("image: postgres:16", "image: realk8s.local/busybox:1\n          imagePullPolicy: Never")
        .replace("          volumeMounts:", &format!("{}\n          volumeMounts:", INITDB.trim_start_matches('\n')));
    ns.apply(&app);
    ns.rollout("statefulset/pg");
    let (code, out, _) =
        ns.kubectl_raw(&["exec", "-n", &ns.name, "pg-0", "--", "ls", "-a", "/var/lib/postgresql/data"], None);
    assert_eq!(code, 0);
    assert!(out.contains("lost+found") && out.contains("pgdata"), "the claim's root: {out}");
    assert!(fs.dir.join("pgdata/PG_VERSION").is_file(), "initdb's check passed and wrote on the ext4 volume");

    // So PGDATA at the mount point itself would hold lost+found: what initdb refuses.
}
