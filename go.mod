module github.com/tcs-project/tcs

go 1.26.0
