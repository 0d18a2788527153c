Console.Error.WriteLine("The load harness arrives with issue 5.");
return 1;
