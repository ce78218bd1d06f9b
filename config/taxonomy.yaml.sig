dualguard-signature v1
# verify with: dualguard verify taxonomy.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: taxonomy.yaml
sha256: fabf83282630093baf026e8b16e4b12b04adc4b1b6818fd95407d51c8f7f5171
signature: 62abba30c9e79d28ad2e9eb044f5f4b4e49ad8c24b0ef0eb21140f63e45e1df831e0a9094bfc1f1e466b1afad2169dd72289f7294b4285b9608df448f892350f
