module github.com/flinkplane/flinkplane

go 1.26
