dualguard-signature v1
# verify with: dualguard verify alerts.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: alerts.yaml
sha256: f95fdf1b6e0c0d687c87f4b16915186f811f3500b2574b8a8ef7564024a85d3d
signature: 478a54e750e5c1c2bc95c5efb1ae97f9c1d8c95391d3320b388854776236416b2cce891e6f88070be0205adb493bf4747e4e6ca37053d08243b57cd95a49510b
