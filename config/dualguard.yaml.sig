dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: 9bfbc109c021ab8d0eaf7c4ced1c4edfb9b60e5273c2cd422d90f5cfd8c5e28e
signature: 90a6f3d1cd96a9bd90e7533dae66b3cf85fac99cb38f0845270d12a199ff8c6cf162ff886ca2354b89f1d90dacbefe1e22c2e87b78b943ba3ea6d1db85744d09
