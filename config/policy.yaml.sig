dualguard-signature v1
# verify with: dualguard verify policy.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: policy.yaml
sha256: 9fff855eb9a465951b77cb77157cba280dee6765160e4cac39d04845b85520a0
signature: 193b89aae03192f59664ed4b920ba39294c155881d21925bf69af79274cc039bc888b4d06daf431531344c07cdd9abc4a73d8673a377cbec040b371d4e902103
