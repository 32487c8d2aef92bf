module example.com/signet/sdkplugin

go 1.22

require github.com/notaryproject/notation-plugin-framework-go v1.0.0
