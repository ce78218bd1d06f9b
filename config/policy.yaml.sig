dualguard-signature v1
# verify with: dualguard verify policy.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: policy.yaml
sha256: 78330810c1a9e69094b3225f6ac65280a1cc1daa89fa377087d0ab4296e0c3d7
signature: 2f117c3955aecd8a228446dc2b7a23e733b20066f460182284d075a4a6ceedf4e45a9076c1003ca6f3d49bb086758ea309051cf16eaf53ad7c4698e6c54ca30c
